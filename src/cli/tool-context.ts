// What keygen, selfsign and fix-ids add to an error, because only the command knows it: what it
// was doing ("cannot generate the key pair: ...") and the MODULE|URI the user typed, put into a
// hint that says `tt-agent list MODULE`. What went wrong and what to do are the error's own
// (src/hint.ts); nothing here knows one error type from another beyond "the token refused".
import { hintOf, shellWord } from '../hint';
import { MechanismNotSupportedError, TokenError } from '../pkcs11/errors';
import { SignUnsupportedError } from '../pkcs11/sign';
import { CertificateNotStoredError } from '../tools/tool-errors';
import { exitCodeOf } from './report';
import { UserError } from './user-error';

export interface ToolContext {
  /** what was being done, as in "cannot <action>": 'generate the key pair', 'write the certificate' */
  action: string;
  command: string;
  /** MODULE|URI as given, for hints that repeat the command */
  spec: string;
}

/** `err` told in the command's context; an error without a hint (a bug) is passed on as it is. */
export function inToolContext(err: unknown, ctx: ToolContext): unknown {
  if (err instanceof UserError) return err;
  const hint = hintOf(err);
  if (hint === undefined || !(err instanceof Error)) return err;
  let message = err.message;
  if (err instanceof CertificateNotStoredError) {
    // Why the token refused, in this command's words; the hint says the certificate is not lost.
    const inner = inToolContext(err.cause, ctx);
    message = inner instanceof Error ? inner.message : String(inner);
  } else if (err instanceof TokenError && err.constructor === TokenError) {
    // A bare CK_RV (subclasses such as PinError have a sentence of their own).
    message = `cannot ${ctx.action}: ${err.fn} returned ${err.ckr}`;
  } else if (err instanceof MechanismNotSupportedError || err instanceof SignUnsupportedError) {
    message = `cannot ${ctx.action}: ${err.message}`;
  }
  const named = hint.replace(/\btt-agent ([a-z-]+) MODULE\b/g, (_, cmd: string) => `tt-agent ${cmd} ${shellWord(ctx.spec)}`);
  return new UserError(message, named, exitCodeOf(err), { cause: err });
}
