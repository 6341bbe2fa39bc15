// The agent's record of key uses: the last uses in memory (for `tt-agent status --uses`), one
// agent log line per use, the desktop notification when asked for, and the configuration and
// known_hosts names the descriptions and the policy are made from.
import type { TokenRef } from '../pin/token-ref';
import { HostNames, defaultKnownHostsFiles } from './host-names';
import type { AgentLog } from './log';
import type { Notifier } from './notify';
import type { UseConfig } from './use-config';
import type { UseConfigSource } from './use-config-file';
import { describeUse, type KeyUse, type UseContext } from './use-record';

export const MAX_RECENT_USES = 200;

interface Remembered {
  identity: object;
  lockGeneration: number;
  token?: string;
}

export class KeyUses {
  private readonly recent: KeyUse[] = [];
  readonly hostNames = new HostNames();
  /** Confirmations to remember: key blob + host key → the identity and lock generation they were given for. */
  private readonly remembered = new Map<string, Remembered>();

  constructor(
    readonly config: UseConfigSource,
    private readonly log: AgentLog,
    private readonly notifier?: Notifier,
    private readonly max = MAX_RECENT_USES,
  ) {}

  /** The configuration as of now (one stat of its file) and what to name hosts with. */
  context(): UseContext {
    const config = this.config.current();
    return { config, hostNames: this.hostNames, knownHostsFiles: [...defaultKnownHostsFiles(), ...config.knownHosts] };
  }

  record(use: KeyUse, config: UseConfig): void {
    this.recent.push(use);
    if (this.recent.length > this.max) this.recent.splice(0, this.recent.length - this.max);
    this.log('info', `key use: ${describeUse(use)}`);
    if (config.notify) this.notifier?.notify(use, config.notifyInterval);
  }

  /** Oldest first. */
  list(): readonly KeyUse[] {
    return this.recent;
  }

  remember(keyBlob: Buffer, hostKey: Buffer, identity: object, lockGeneration: number, token?: TokenRef): void {
    this.remembered.set(memoryKey(keyBlob, hostKey), { identity, lockGeneration, token: token && tokenName(token) });
  }

  /** A confirmation given before for this key and host, still valid: same identity, no lock since. */
  isRemembered(keyBlob: Buffer, hostKey: Buffer, identity: object, lockGeneration: number): boolean {
    const k = memoryKey(keyBlob, hostKey);
    const r = this.remembered.get(k);
    if (!r) return false;
    if (r.identity === identity && r.lockGeneration === lockGeneration) return true;
    this.remembered.delete(k);
    return false;
  }

  /** A token was pulled: confirmations remembered for its keys end. */
  forgetToken(token: TokenRef): void {
    const name = tokenName(token);
    for (const [k, r] of this.remembered) if (r.token === name) this.remembered.delete(k);
  }
}

function memoryKey(keyBlob: Buffer, hostKey: Buffer): string {
  return `${keyBlob.toString('base64')} ${hostKey.toString('base64')}`;
}

function tokenName(t: TokenRef): string {
  return t.label.trim();
}
