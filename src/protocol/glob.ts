// OpenSSH's match_pattern: '*' any run of characters, '?' any one, nothing else special. Used for
// the module allowlist (-P), known_hosts host patterns and the configuration's Key and Host
// patterns. Iterative with single-star backtracking: linear in practice, and no regular
// expression is ever built from what a user or a file wrote.
export function globMatches(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      t++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}
