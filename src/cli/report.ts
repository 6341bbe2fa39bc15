// Prints any error as the user reads it: `tt-agent: MESSAGE`, then `  HINT` (src/hint.ts says
// why the hint lives on the error and nowhere else), and a stack trace only when asked for
// (--debug). No table of error types here: an error that carries no hint is a bug (exit 70).
// Imports nothing beyond these two small files, so `tt-agent --help` stays free of native code.
import { hintOf, isUsageError } from '../hint';
import { UserError } from './user-error';

const BUG_HINT = 'Run again with --debug for details, and report it if it looks like a bug.';

/** Exit status: the UserError's own, 2 for a usage error, 1 for any other error with a hint, 70 for a bug. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UserError) return err.exitCode;
  if (hintOf(err) === undefined) return 70;
  return isUsageError(err) ? 2 : 1;
}

export function reportError(err: unknown, debug: boolean): number {
  const message = err instanceof Error ? err.message : String(err);
  const hint = err instanceof UserError ? err.hint : (hintOf(err) ?? BUG_HINT);
  let out = `tt-agent: ${message}\n`;
  if (hint) out += `  ${hint}\n`;
  if (debug) {
    const e = err instanceof UserError && err.cause instanceof Error ? err.cause : err;
    out += `${e instanceof Error ? (e.stack ?? '') : ''}\n`;
  }
  process.stderr.write(out);
  return exitCodeOf(err);
}
