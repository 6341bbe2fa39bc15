// ssh-agent / sshd_config time formats (sshd_config(5) TIME FORMATS): a number of seconds, or
// a sequence of number+unit with s, m, h, d, w (case-insensitive), e.g. 90, 10m, 1h30m.
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds, or undefined when the text is not a valid time. */
export function parseLifetime(text: string): number | undefined {
  const s = text.trim();
  if (s === '' || !/^(\d+[smhdwSMHDW]?)+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+)([smhdwSMHDW]?)/g)) {
    total += Number(m[1]) * (m[2] ? UNIT_SECONDS[m[2].toLowerCase()] : 1);
  }
  // OpenSSH caps at INT_MAX; so does the uint32 on the wire.
  if (!Number.isSafeInteger(total) || total > 0x7fffffff) return undefined;
  return total;
}
