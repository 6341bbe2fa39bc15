// What a person reads when a PIN is needed, and when a token has locked itself. PKCS#11 says
// little about retries: CKF_USER_PIN_COUNT_LOW ("an incorrect PIN has been entered at least
// once since the last successful authentication") and CKF_USER_PIN_FINAL_TRY; a count is
// known only from vendor extensions, so it is optional.
import { describeToken, type TokenRef } from './token-ref';

export type TriesLeft = 'ok' | 'low' | 'final';

export interface PinRequestReason {
  triesLeft?: TriesLeft;
  /** Known count of tries left, where a module reports one. */
  tries?: number;
  /** A CKU_CONTEXT_SPECIFIC login for one signature with a CKA_ALWAYS_AUTHENTICATE key. */
  contextSpecific?: boolean;
  keyLabel?: string;
}

export const FINAL_TRY_WARNING = 'LAST TRY: a wrong PIN locks the token';

/** The line about retries, or '' when the token reports nothing unusual. */
export function triesText(why: PinRequestReason): string {
  if (why.triesLeft === 'final' || why.tries === 1) return FINAL_TRY_WARNING;
  if (why.tries !== undefined) return `${why.tries} tries left`;
  if (why.triesLeft === 'low') return 'a wrong PIN was entered before: few tries left';
  return '';
}

/** One line, as SSH_ASKPASS programs show argv[1]. */
export function pinPrompt(token: TokenRef, why: PinRequestReason): string {
  const what = why.contextSpecific
    ? `PIN to sign once with ${why.keyLabel ? `key "${why.keyLabel}" on ` : ''}token ${describeToken(token)}`
    : `PIN for token ${describeToken(token)}${why.keyLabel ? ` (key "${why.keyLabel}")` : ''}`;
  const tries = triesText(why);
  return `Enter ${what}${tries ? ` (${tries})` : ''}: `;
}

/** pinentry's SETDESC text: several lines allowed. */
export function pinDescription(token: TokenRef, why: PinRequestReason): string {
  const lines = [
    why.contextSpecific
      ? `tt-agent needs the PIN of token ${describeToken(token)} to sign once${why.keyLabel ? ` with key "${why.keyLabel}"` : ''}.`
      : `tt-agent needs the PIN of token ${describeToken(token)}${why.keyLabel ? ` to use key "${why.keyLabel}"` : ''}.`,
  ];
  const tries = triesText(why);
  if (tries) lines.push(tries);
  return lines.join('\n');
}

/** CKR_PIN_LOCKED: which token, and how to get it back (the PUK, or the vendor's tool). */
export function lockedMessage(token: TokenRef): { message: string; hint: string } {
  return {
    message: `token ${describeToken(token)} is locked after too many wrong PINs (CKR_PIN_LOCKED)`,
    hint:
      'Unblock it with the PUK: yubico-piv-tool -a unblock-pin (PIV cards, YubiKeys) or ' +
      'pkcs11-tool --module MODULE --login --login-type context-specific --unlock-pin; with an SO PIN: ' +
      "pkcs11-tool --module MODULE --login --login-type so --init-pin; else the token vendor's tool. Then run tt-agent unlock.",
  };
}
