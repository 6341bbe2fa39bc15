// Keys offered per host: on a connection bound to a server for login (the last session-bind
// is not a forwarding one), the first `Host` block of the configuration that matches the
// server's known_hosts names or host key fingerprint decides which keys the identity list
// shows, so `ssh` does not spend the server's MaxAuthTries on keys it will not take. Unbound
// connections (`ssh-add -l`) and forwarded ones without a login bind see every key.
import type { AgentCore } from './core';
import { cachedFingerprint } from './fingerprint-cache';
import type { Identity } from './identities';
import type { ConnectionState } from './connection-state';
import { hostKeySelection, selectorMatches } from './use-config';

export function offeredIdentities(core: AgentCore, conn: ConnectionState, identities: Identity[]): Identity[] {
  const last = conn.binds[conn.binds.length - 1];
  if (!last || last.isForwarding) return identities;
  const ctx = core.uses.context();
  const config = ctx.config;
  if (config.hostRules.length === 0) return identities;
  const host = { names: ctx.hostNames.namesOf(last.hostKeyBlob, ctx.knownHostsFiles), fingerprint: cachedFingerprint(last.hostKeyBlob) };
  const rule = hostKeySelection(config, host);
  if (!rule?.keys) return identities;
  const selectors = rule.keys;
  const chosen = identities.filter((id) => selectors.some((s) => selectorMatches(s, { fingerprint: cachedFingerprint(id.blob), comment: id.comment })));
  core.log(
    'debug',
    `connection ${conn.id}: offering ${chosen.length} of ${identities.length} keys to ${host.names[0] ?? host.fingerprint} (${config.file}:${rule.line})`,
  );
  return chosen;
}
