// The answer to status@tt-agent: enough for `tt-agent` to recognise its own live agent and
// for `tt-agent status` to explain "agent refused operation". The short form is immediate
// (`eval $(tt-agent)` waits on it); the full form also asks every module host, with a timeout.
import { fingerprintSha256 } from '../protocol/fingerprint';
import { sshKeyType } from '../protocol/public-key';
import type { AgentCore } from './core';
import type { Identity } from './identities';
import type { TokenLoadReport } from '../token-provider/provider';
import { describeError } from './refusal';
import { moduleStatus, type ModuleStatus } from './status-modules';
import type { KeyUse } from './use-record';

export const STATUS_EXTENSION = 'status@tt-agent';

export interface KeyStatus {
  type: string;
  fingerprint: string;
  comment: string;
  /** 'file', or `token LABEL (MODULE)` */
  source: string;
  /** For token keys: the token label and module realpath. */
  token?: string;
  modulePath?: string;
  expiresAt: string | null;
  confirm: boolean;
  destinations: number;
  /** For a certificate identity: its key id. */
  keyId?: string;
}

export interface AgentStatus {
  agent: 'tt-agent';
  version: string;
  pid: number;
  uid: number;
  startedAt: string;
  locked: boolean;
  identities: number;
  allowlist: string[];
  defaultLifetime: number | null;
  allowRemoteProviders: boolean;
  keys?: KeyStatus[];
  providers: { modulePath: string; loadedAt: string; tokens: TokenLoadReport[]; status?: unknown }[];
  /** Full form only: each loaded module with its host, tokens and keys, merged for reading. */
  modules?: ModuleStatus[];
  /** The last loads (newest last), failed ones included: `tt-agent add` reads its outcome here. */
  loadReports: { modulePath: string; at: string; tokens: TokenLoadReport[]; error?: string }[];
  /** Module loads refused before a provider saw them: allowlist, forwarded connection, bad name. */
  refusals: { at: string; requested: string; realPath?: string; reason: string }[];
  /** The last error each token reported while loading (the host adds those from signing). */
  tokenErrors: { modulePath: string; token: string; serial: string; ckr?: string; message: string; at: string }[];
  /** Full form, unlocked only: the last key uses (signatures and refusals), oldest first. */
  uses?: readonly KeyUse[];
}

export async function agentStatus(core: AgentCore, full: boolean): Promise<AgentStatus> {
  const entries = [...core.providers.entries()];
  const hostStatus = full ? await Promise.all(entries.map(([, p]) => providerStatus(p.provider))) : [];
  const locked = core.lock.locked;
  const identities = locked ? [] : core.identities.list();
  const iso = (t: number) => new Date(t).toISOString();
  return {
    agent: 'tt-agent',
    version: core.config.version,
    pid: process.pid,
    uid: process.getuid?.() ?? -1,
    startedAt: iso(core.startedAt),
    locked,
    identities: identities.length,
    allowlist: core.config.allowlist,
    defaultLifetime: core.config.defaultLifetime ?? null,
    allowRemoteProviders: core.config.allowRemoteProviders,
    // Key details only while unlocked: locking hides the identities from everyone.
    ...(full && !locked ? { keys: identities.map(keyStatus), uses: core.uses.list() } : {}),
    providers: entries.map(([modulePath, p], i) => ({
      modulePath,
      loadedAt: iso(p.loadedAt),
      tokens: p.reports,
      ...(full ? { status: hostStatus[i] } : {}),
    })),
    ...(full
      ? {
          modules: entries.map(([modulePath, p], i) =>
            moduleStatus({
              modulePath,
              loadedAt: p.loadedAt,
              reports: p.reports,
              host: hostStatus[i],
              keys: identities.filter((id) => id.source.kind === 'token' && id.source.provider === p.provider).map(keyStatus),
              loadErrors: core.tokenLoadErrors.filter((e) => e.modulePath === modulePath),
            }),
          ),
        }
      : {}),
    loadReports: core.loadReports.map((r) => ({ ...r, at: iso(r.at) })),
    refusals: core.moduleRefusals.map((r) => ({ ...r, at: iso(r.at) })),
    tokenErrors: core.tokenLoadErrors.map((e) => ({ ...e, at: iso(e.at) })),
  };
}

function keyStatus(id: Identity): KeyStatus {
  const src = id.source;
  return {
    type: id.certificate?.type ?? sshKeyType(id.publicKey),
    fingerprint: fingerprintSha256(id.blob),
    ...(id.certificate ? { keyId: id.certificate.keyId } : {}),
    comment: id.comment,
    source: src.kind === 'soft' ? 'file' : `token ${src.token} (${src.provider.modulePath})`,
    ...(src.kind === 'token' ? { token: src.token, modulePath: src.provider.modulePath } : {}),
    expiresAt: id.constraints.expiresAt ? new Date(id.constraints.expiresAt).toISOString() : null,
    confirm: id.constraints.confirm,
    destinations: id.constraints.destinations.length,
  };
}

const PROVIDER_STATUS_TIMEOUT_MS = 3000;

async function providerStatus(provider: { status(): Promise<unknown> }): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      provider.status(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 3 s')), PROVIDER_STATUS_TIMEOUT_MS))),
    ]);
  } catch (err) {
    return { error: describeError(err) };
  } finally {
    clearTimeout(timer);
  }
}
