// The names a known_hosts file gives each host key (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):
//   [@marker] host-patterns keytype base64-key [comment]
// Only plain names count: a hashed field (|1|...) hides its name, a pattern with '*', '?' or
// '!' names no one host, and @revoked / @cert-authority lines are not a host's own key.
// Pure: the agent reads the files and hands the text in.

/** Key blob (base64, as written) → the names given for it, in file order. */
export type HostNamesByKey = Map<string, string[]>;

export function addKnownHostNames(text: string, into: HostNamesByKey = new Map()): HostNamesByKey {
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/[ \t]+/);
    if (fields.length < 3 || fields[0].startsWith('#') || fields[0].startsWith('@') || fields[0].startsWith('|')) continue;
    const [hosts, , base64] = fields;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) continue;
    // Normalised through a decode, so `AAAA...` with or without padding finds the same key.
    const key = Buffer.from(base64, 'base64').toString('base64');
    const names = into.get(key) ?? [];
    for (const name of hosts.toLowerCase().split(',')) {
      if (name === '' || /[*?!]/.test(name) || names.includes(name)) continue;
      names.push(name);
    }
    if (names.length > 0) into.set(key, names);
  }
  return into;
}

/** `[host]:port` → `host`; other names unchanged. */
export function hostOfName(name: string): string {
  const m = /^\[([^\]]+)\]:\d+$/.exec(name);
  return m ? m[1] : name;
}
