// The one place that turns any error into what the user reads: one line saying what went
// wrong, one saying what to do next, and a stack trace only when asked for (--debug).
import { UserError } from './user-error';

type Explainer = (err: unknown) => UserError | undefined;
const explainers: Explainer[] = [];

/** Lets a layer's error type be translated without the CLI core importing that layer. */
export function registerExplainer(fn: Explainer): void {
  explainers.push(fn);
}

export function toUserError(err: unknown): UserError {
  if (err instanceof UserError) return err;
  for (const fn of explainers) {
    const e = fn(err);
    if (e) return e;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new UserError(msg, 'Run again with --debug for details, and report it if it looks like a bug.', 70, {
    cause: err,
  });
}

export function reportError(err: unknown, debug: boolean): number {
  const u = toUserError(err);
  let out = `tt-agent: ${u.message}\n`;
  if (u.hint) out += `  ${u.hint}\n`;
  if (debug) out += `${(u.cause instanceof Error ? u.cause : u).stack ?? ''}\n`;
  process.stderr.write(out);
  return u.exitCode;
}
