// `-h DEST` / `-H FILE` of `tt-agent add`: the restrict-destination-v00@openssh.com constraint
// built as ssh-add(1) builds it, so the agent receives the same bytes either way.
//   DEST = [user@]host            from the origin (this machine) to host
//        | from-host>[user@]host  through from-host (a forwarded agent there) to host
// Each named host becomes its host keys from the known_hosts files (plain keys, and
// @cert-authority keys flagged is_ca; @revoked lines never count). `user@` alone names a
// user on any host and carries no keys.
import type { DestinationConstraint, DestinationHop, KeyConstraint } from '../protocol/constraints';
import { UserError } from './user-error';
import { findHostKeys } from './known-hosts';

/** ssh-add's defaults (ssh_config UserKnownHostsFile and GlobalKnownHostsFile), used when no -H is given. */
export const DEFAULT_KNOWN_HOSTS_FILES = [
  '~/.ssh/known_hosts',
  '~/.ssh/known_hosts2',
  '/etc/ssh/ssh_known_hosts',
  '/etc/ssh/ssh_known_hosts2',
];

export interface DestinationResult {
  constraint: KeyConstraint;
  /** Things worth a line on stderr that do not stop the add. */
  notes: string[];
}

const SYNTAX_HINT = 'Write HOST, USER@HOST, FROM>HOST or FROM>USER@HOST, as for ssh-add -h.';

/** The constraint for all -h arguments, looked up in `files` (default: ssh-add's list). */
export function buildDestinationConstraint(dests: readonly string[], files?: readonly string[]): DestinationResult {
  const searched = files && files.length > 0 ? files : DEFAULT_KNOWN_HOSTS_FILES;
  const notes: string[] = [];
  const constraints = dests.map((d) => parseDestination(d, searched, notes));
  return { constraint: { kind: 'restrict-destination', constraints }, notes };
}

export function parseDestination(dest: string, files: readonly string[], notes: string[] = []): DestinationConstraint {
  // Split at the first '>' and, in each hop, at the first '@' (ssh-add does the same).
  const gt = dest.indexOf('>');
  if (gt < 0) return { from: emptyHop(), to: parseHop(dest, dest, files, notes) };
  // Checked before any lookup, so a typo is not reported as an unknown host.
  if (dest.slice(0, gt).includes('@')) {
    throw new UserError(`invalid destination "${dest}": a user name can only be given for the host after '>'`, SYNTAX_HINT, 2);
  }
  return { from: parseHop(dest.slice(0, gt), dest, files, notes), to: parseHop(dest.slice(gt + 1), dest, files, notes) };
}

function emptyHop(): DestinationHop {
  return { user: '', hostname: '', keys: [] };
}

function parseHop(text: string, dest: string, files: readonly string[], notes: string[]): DestinationHop {
  const at = text.indexOf('@');
  const user = at < 0 ? '' : text.slice(0, at);
  const host = unbracket(at < 0 ? text : text.slice(at + 1));
  if (host === '') {
    if (at < 0 || user === '') throw new UserError(`invalid destination "${dest}": it names neither a user nor a host`, SYNTAX_HINT, 2);
    return { user, hostname: '', keys: [] };
  }
  const found = findHostKeys(host, files);
  const keys = found.keys
    .filter((k) => k.marker !== 'revoked')
    .map((k) => ({ keyBlob: k.keyBlob, isCa: k.marker === 'cert-authority' }));
  if (keys.length === 0) throw unknownHost(host, found);
  if (keys.every((k) => k.isCa)) {
    // The agent matches session-bind host keys against plain keys only (src/agent/destination.ts).
    notes.push(`destination "${host}" matched only @cert-authority keys, which the agent does not match host keys against; add the host's own key to known_hosts to log in there`);
  }
  return { user, hostname: host, keys };
}

/**
 * `[host]` → `host`; `[host]:port` stays as written, the spelling known_hosts uses for it.
 * (ssh-add 9.x means the same but keeps the '[' by mistake, then finds only wildcard lines.)
 */
function unbracket(host: string): string {
  return host.length >= 2 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function unknownHost(host: string, found: ReturnType<typeof findHostKeys>): UserError {
  const where = found.files.map((f) => (f.problem ? `${f.file} (${f.problem})` : f.file)).join(', ');
  const hint =
    found.withPort.length > 0
      ? `The files know it only with a port: give -h '${found.withPort[0]}' (or the host>... form with it).`
      : `Check the host's keys and add them (ssh-keyscan ${host} >> ~/.ssh/known_hosts), or name a known_hosts file with -H.`;
  return new UserError(`no host keys found for destination "${host}" in ${where}`, hint);
}
