// The agent's state, shared by every connection: identities, loaded token providers, the
// lock, and the configuration the CLI (or a test) handed to createAgent.
import type { PinBroker } from '../pin/broker';
import { fingerprintSha256 } from '../protocol/fingerprint';
import { sshKeyType } from '../protocol/public-key';
import type { ConfirmFn } from './confirm';
import { IdentityTable, type Identity } from './identities';
import { KeyUses } from './key-uses';
import { AgentLock } from './lock';
import type { AgentLog } from './log';
import type { Notifier } from './notify';
import type { ProviderFactory, TokenLoadReport, TokenProvider } from '../token-provider/provider';
import { describeError } from './refusal';
import { UseConfigSource } from './use-config-file';

/**
 * The PINs the agent keeps (the PIN broker owns them). Locking seals them under a key derived
 * from the lock passphrase; unlocking unseals them; SIGUSR1 and ssh-add -D forget them.
 */
export interface PinVault {
  /** False when already sealed. */
  seal(key: Buffer): boolean | Promise<boolean>;
  /** False when the key is wrong; nothing is lost then. */
  unseal(key: Buffer): boolean | Promise<boolean>;
  forgetAll(): void | Promise<void>;
}

/** For an agent that keeps no PINs (tests, file keys only). */
const NO_PINS: PinVault = { seal: () => true, unseal: () => true, forgetAll: () => undefined };

export interface AgentConfig {
  providerFactory?: ProviderFactory;
  /** The only holder of PINs; absent in agents without token support. */
  pins?: PinBroker;
  /** Glob patterns (OpenSSH -P) matched against a module's realpath. */
  allowlist: string[];
  log: AgentLog;
  /** Seconds; applies to keys added without their own lifetime (ssh-agent -t). */
  defaultLifetime?: number;
  confirm: ConfirmFn;
  /** Let connections bound to a remote session (forwarded agents) load PKCS#11 modules. Off, as in OpenSSH. */
  allowRemoteProviders: boolean;
  version: string;
  /** The key-use configuration file; null or absent: none (use log only, no policy). */
  useConfigFile?: string | null;
  notifier?: Notifier;
}

export interface LoadedProvider {
  provider: TokenProvider;
  reports: TokenLoadReport[];
  loadedAt: number;
}

/** One SSH_AGENTC_ADD_SMARTCARD_KEY that reached a provider, kept for `tt-agent add` and `status`. */
export interface LoadReport {
  modulePath: string;
  at: number;
  tokens: TokenLoadReport[];
  /** Why the load as a whole failed: CKR_* name and message. Never contains a PIN. */
  error?: string;
}

/** A module load the agent refused before any provider saw it (allowlist, forwarded connection...). */
export interface ModuleRefusal {
  at: number;
  /** The name the client sent. */
  requested: string;
  /** Its realpath, when it resolved. */
  realPath?: string;
  reason: string;
}

/** The latest error a token reported during a load; the host keeps the ones from signing. */
export interface TokenErrorRecord {
  modulePath: string;
  token: string;
  serial: string;
  ckr?: string;
  message: string;
  at: number;
}

// Bounded so that a client looping on bad requests cannot grow the agent.
const MAX_LOAD_REPORTS = 16;
const MAX_REFUSALS = 16;
const MAX_TOKEN_ERRORS = 64;
const PROVIDER_CLOSE_TIMEOUT_MS = 5000;

export class AgentCore {
  readonly identities: IdentityTable;
  readonly providers = new Map<string, LoadedProvider>();
  readonly lock = new AgentLock();
  readonly startedAt = Date.now();
  /** Every signature and refusal, the key-use policy and its configuration. */
  readonly uses: KeyUses;
  /** Serialises loads and removals per module path, so two `ssh-add -s` of one module do not race. */
  private readonly moduleQueues = new Map<string, Promise<unknown>>();
  private readonly loads: LoadReport[] = [];
  private readonly refusals: ModuleRefusal[] = [];
  private readonly tokenErrors = new Map<string, TokenErrorRecord>();
  private readonly stopAbsenceWatch: () => void;

  constructor(readonly config: AgentConfig) {
    this.identities = new IdentityTable((id) => this.config.log('info', `lifetime expired, removed ${describeIdentity(id)}`));
    // Throws UseConfigError for a configuration with bad lines: the agent does not start on it.
    this.uses = new KeyUses(new UseConfigSource(config.useConfigFile ?? null, config.log), config.log, config.notifier);
    // A pulled token ends the confirmations remembered for its keys.
    this.stopAbsenceWatch = config.pins?.onTokenAbsent((token) => this.uses.forgetToken(token)) ?? (() => {});
  }

  /** The agent stops: no more hooks into process-wide services (the PIN broker's token events). */
  dispose(): void {
    this.stopAbsenceWatch();
  }

  /** The broker as far as locking and wiping need it; an agent without tokens keeps no PINs. */
  get pins(): PinVault {
    return this.config.pins ?? NO_PINS;
  }

  log(...args: Parameters<AgentLog>): void {
    this.config.log(...args);
  }

  /** Remembers the outcome of a load (success or failure) and each token's error in it. */
  recordLoad(report: Omit<LoadReport, 'at'>): void {
    const at = Date.now();
    pushBounded(this.loads, { ...report, at }, MAX_LOAD_REPORTS);
    for (const t of report.tokens) {
      if (!t.error) continue;
      const key = `${report.modulePath}\0${t.serial}\0${t.token}`;
      this.tokenErrors.delete(key); // re-inserted last: Map order is recency
      this.tokenErrors.set(key, { modulePath: report.modulePath, token: t.token, serial: t.serial, ...t.error, at });
      if (this.tokenErrors.size > MAX_TOKEN_ERRORS) this.tokenErrors.delete(this.tokenErrors.keys().next().value!);
    }
  }

  recordRefusal(refusal: Omit<ModuleRefusal, 'at'>): void {
    pushBounded(this.refusals, { ...refusal, at: Date.now() }, MAX_REFUSALS);
  }

  get loadReports(): readonly LoadReport[] {
    return this.loads;
  }

  get moduleRefusals(): readonly ModuleRefusal[] {
    return this.refusals;
  }

  get tokenLoadErrors(): TokenErrorRecord[] {
    return [...this.tokenErrors.values()];
  }

  withModule<T>(modulePath: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.moduleQueues.get(modulePath) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.moduleQueues.set(modulePath, settled);
    void settled.then(() => {
      if (this.moduleQueues.get(modulePath) === settled) this.moduleQueues.delete(modulePath);
    });
    return next;
  }

  /** Drops a provider's identities and closes it; a provider that hangs on close is abandoned after a timeout. */
  async unloadProvider(modulePath: string): Promise<number> {
    const entry = this.providers.get(modulePath);
    if (!entry) return 0;
    this.providers.delete(modulePath);
    const removed = this.identities.removeWhere((id) => id.source.kind === 'token' && id.source.provider === entry.provider);
    await closeProvider(entry.provider, this.config.log);
    return removed;
  }

  /**
   * OpenSSH's emergency wipe (SIGUSR1 since 10.0): every key dropped, every module unloaded
   * (C_Finalize logs its tokens out), every kept PIN forgotten.
   */
  async dropEverything(): Promise<number> {
    const n = this.identities.size;
    await this.unloadAll();
    await this.pins.forgetAll();
    return n;
  }

  async unloadAll(): Promise<void> {
    this.identities.clear();
    const entries = [...this.providers.values()];
    this.providers.clear();
    await Promise.all(entries.map((e) => closeProvider(e.provider, this.config.log)));
  }
}

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

async function closeProvider(provider: TokenProvider, log: AgentLog): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), PROVIDER_CLOSE_TIMEOUT_MS)));
  try {
    const outcome = await Promise.race([provider.close().then(() => 'closed' as const), timeout]);
    if (outcome === 'timeout') log('warn', `module ${provider.modulePath} did not close within ${PROVIDER_CLOSE_TIMEOUT_MS} ms; abandoned`);
    else log('info', `module ${provider.modulePath} closed`);
  } catch (err) {
    log('warn', `closing module ${provider.modulePath} failed: ${describeError(err)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** `ssh-ed25519 SHA256:... "comment"` for log lines. */
// Every signature logs this (at debug level): a SHA-256 per signature is worth saving.
const descriptions = new WeakMap<object, string>();

export function describeIdentity(id: Pick<Identity, 'blob' | 'publicKey' | 'comment' | 'certificate'>): string {
  let d = descriptions.get(id);
  if (d === undefined) {
    const type = id.certificate ? `${id.certificate.type} (key id ${JSON.stringify(id.certificate.keyId)})` : sshKeyType(id.publicKey);
    // The key's fingerprint for both, as ssh-add -l shows it.
    d = `${type} ${fingerprintSha256(id.certificate?.keyBlob ?? id.blob)} ${JSON.stringify(id.comment)}`;
    descriptions.set(id, d);
  }
  return d;
}
