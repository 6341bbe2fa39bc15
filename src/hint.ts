// What to do next, after an error: the one way tt-agent tells a user (docs/architecture.md).
// Decision: the hint is a field on the error, set where it is thrown by the code that knows the
// facts (module path, CKR_* name, token, config line). Only a field on the error reaches all
// three places a user reads: the CLI's stderr (src/cli/report.ts prints message + hint of any
// error), the agent's log, and the wire (a module host's ERROR frame, then the agent's
// add-smartcard@tt-agent refusal to `tt-agent add`). A CLI table keyed by error class or name,
// or a match on a reason's words, knows the facts only in the process that made the error and
// loses them across the pipe and the socket: there is none (test/docs/one-hint.test.ts). The
// CLI adds only what it alone knows, at the call site: the command, the MODULE as typed.
// An error without a hint is a bug as far as the CLI can tell (exit 70).

/** An error that says what to do about it. */
export interface Hinted {
  /** One short sentence: what the user can try next. */
  readonly hint: string;
  /** The user's own words were wrong (a module name, a URI, an option value): exit 2, not 1. */
  readonly usage?: boolean;
}

/** The hint an error carries (any error shaped like Hinted, also one rebuilt from a peer's frame). */
export function hintOf(err: unknown): string | undefined {
  const hint = err !== null && typeof err === 'object' ? (err as { hint?: unknown }).hint : undefined;
  return typeof hint === 'string' && hint !== '' ? hint : undefined;
}

/** True for an error that blames what the user typed. */
export function isUsageError(err: unknown): boolean {
  return err !== null && typeof err === 'object' && (err as { usage?: unknown }).usage === true;
}

/** A path or spec as one shell word, for a hint the user may paste. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
