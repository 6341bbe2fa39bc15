// The answer to status@tt-agent: enough for `tt-agent` to recognise its own live agent and
// for `tt-agent status` to explain "agent refused operation".
import { fingerprintSha256 } from '../protocol/fingerprint';
import { sshKeyType } from '../protocol/public-key';
import type { AgentCore } from './core';
import { describeError } from './refusal';

export const STATUS_EXTENSION = 'status@tt-agent';
const PROVIDER_STATUS_TIMEOUT_MS = 3000;

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
  keys?: { type: string; fingerprint: string; comment: string; source: string; expiresAt: string | null; confirm: boolean; destinations: number }[];
  providers: { modulePath: string; loadedAt: string; tokens: unknown; status?: unknown }[];
}

export async function agentStatus(core: AgentCore, full: boolean): Promise<AgentStatus> {
  const providers = await Promise.all(
    [...core.providers.entries()].map(async ([modulePath, p]) => ({
      modulePath,
      loadedAt: new Date(p.loadedAt).toISOString(),
      tokens: p.reports,
      ...(full ? { status: await providerStatus(p.provider) } : {}),
    })),
  );
  const locked = core.lock.locked;
  return {
    agent: 'tt-agent',
    version: core.config.version,
    pid: process.pid,
    uid: process.getuid?.() ?? -1,
    startedAt: new Date(core.startedAt).toISOString(),
    locked,
    identities: locked ? 0 : core.identities.size,
    allowlist: core.config.allowlist,
    defaultLifetime: core.config.defaultLifetime ?? null,
    // Key details only while unlocked: locking hides the identities from everyone.
    ...(full && !locked
      ? {
          keys: core.identities.list().map((id) => ({
            type: sshKeyType(id.publicKey),
            fingerprint: fingerprintSha256(id.blob),
            comment: id.comment,
            source: id.source.kind === 'soft' ? 'file' : `token ${id.source.token} (${id.source.provider.modulePath})`,
            expiresAt: id.constraints.expiresAt ? new Date(id.constraints.expiresAt).toISOString() : null,
            confirm: id.constraints.confirm,
            destinations: id.constraints.destinations.length,
          })),
        }
      : {}),
    providers,
  };
}

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
