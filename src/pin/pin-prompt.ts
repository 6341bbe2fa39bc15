// Asking a person for a token's PIN, in order: SSH_ASKPASS, else pinentry. Answers
// `undefined` when neither can be shown, so the broker falls back to waiting for
// `tt-agent unlock`; `null` when the person cancelled.
import { askpassPlan, runAskpass, type AskpassOptions, type AskResult } from './askpass';
import { pinentryPlan, runPinentry, type PinentryOptions } from './pinentry';
import { FINAL_TRY_WARNING, pinDescription, pinPrompt, type PinRequestReason } from './prompt-text';
import { describeToken, type TokenRef } from './token-ref';

export interface PromptOptions {
  askpass?: AskpassOptions;
  /** false: never run pinentry. */
  pinentry?: PinentryOptions | false;
  log: (line: string) => void;
}

export function isFinal(why: PinRequestReason): boolean {
  return why.triesLeft === 'final' || why.tries === 1;
}

/** The PIN a person typed, null when cancelled, or the reasons no dialog could be shown. */
export async function promptForPin(token: TokenRef, why: PinRequestReason, opts: PromptOptions): Promise<Buffer | null | { skipped: string[] }> {
  const skipped: string[] = [];
  const outcome = (r: AskResult, via: string): Buffer | null | undefined => {
    if (r.kind === 'pin') {
      if (r.pin.length > 0) return r.pin;
      opts.log(`empty PIN from ${via} for token ${describeToken(token)}: treated as cancelled`);
      return null;
    }
    if (r.kind === 'cancelled') {
      opts.log(`PIN entry for token ${describeToken(token)} cancelled (${r.reason})`);
      return null;
    }
    skipped.push(r.reason);
    return undefined;
  };

  const ap = askpassPlan(opts.askpass);
  if ('program' in ap) {
    const got = outcome(await runAskpass(ap.program, pinPrompt(token, why), opts.askpass), 'SSH_ASKPASS');
    if (got !== undefined) return got;
  } else skipped.push(`SSH_ASKPASS: ${ap.skip}`);

  if (opts.pinentry !== false) {
    const pp = pinentryPlan(opts.pinentry || {});
    if ('program' in pp) {
      const texts = {
        title: 'tt-agent',
        description: pinDescription(token, why),
        prompt: 'PIN:',
        error: isFinal(why) ? FINAL_TRY_WARNING : undefined,
      };
      const got = outcome(await runPinentry(pp.program, texts, { ...(opts.pinentry || {}), ttyname: pp.ttyname }), 'pinentry');
      if (got !== undefined) return got;
    } else skipped.push(`pinentry: ${pp.skip}`);
  }
  return { skipped };
}

export function shellWord(s: string): string {
  return /^[\w.:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
