// What to do next, after an error: the one way tt-agent tells a user.
//
// An error says what went wrong in its message and what to do next in its `hint` field, set
// where it is thrown, by the code that knows the facts (the module path, the CKR_* name, the
// token's label, the config line). Only a field on the error reaches all three places a user
// reads: the CLI's stderr (src/cli/report.ts prints message + hint of any error), the agent's
// log, and the wire (a module host's ERROR frame carries it to the agent, and the agent's
// add-smartcard@tt-agent refusal carries it on to `tt-agent add`). A table of explanations
// in the CLI, keyed by error class or by error name, or a match on an error's sentence, would
// know the facts only where the error was made in the same process, and lose them across the
// pipe and the socket; so there is none (test/docs/one-hint.test.ts keeps it that way). The CLI
// adds only what it alone knows, at the call site: the command's name, the MODULE as typed.
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
