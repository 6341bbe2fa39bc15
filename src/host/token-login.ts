// Logging a token in when a signature needs it: the PIN comes from the agent's broker (its
// cache, the OS keyring, a dialog or `tt-agent unlock`), asked through the channel only while
// that signature is pending, and the broker hears what became of it so it forgets a PIN the
// token rejected.
import { TokenError } from '../pkcs11/errors';
import { CKR_PIN_LOCKED, PinError } from '../pkcs11/login';
import type { TokenInfo } from '../pkcs11/token';
import type { PinRequestReason } from '../pin/prompt-text';
import type { HostKey, HostToken } from './host-token';
import { PinNeededError } from './token-errors';

/**
 * The first signature of a token added without a PIN, or after a removal or a reset: ask the
 * agent for a PIN, log in, and find the private keys that the login made visible. One login
 * at a time: concurrent signatures wait for the same one.
 */
export function loginOnDemand(t: HostToken, key: HostKey): Promise<void> {
  if (!t.loggingIn) {
    t.loggingIn = doLoginOnDemand(t, key).finally(() => {
      t.loggingIn = undefined;
    });
  }
  return t.loggingIn;
}

async function doLoginOnDemand(t: HostToken, key: HostKey): Promise<void> {
  const info = await t.gate.run(() => t.token.refreshInfo());
  if (info.loginRequired) {
    // A PIN pad (CKF_PROTECTED_AUTHENTICATION_PATH) takes the PIN itself: C_Login with none.
    const pin = info.protectedAuthenticationPath ? null : await askPin(t, info, { keyLabel: key.label || undefined });
    try {
      await logInTelling(t, pin);
    } finally {
      pin?.fill(0);
    }
  } else {
    t.login = 'not-needed';
  }
  await t.reconnect.findKeysAgain();
}

/** A PIN from the agent; throws PinNeededError when none comes. The caller zeroes it. */
export async function askPin(t: HostToken, info: TokenInfo, why: PinRequestReason): Promise<Buffer> {
  if (info.userPinLocked) throw lockedError(t);
  if (!t.pins) throw new PinNeededError(t.label);
  const reason: PinRequestReason = { ...why, triesLeft: info.userPinFinalTry ? 'final' : info.userPinCountLow ? 'low' : 'ok' };
  const pin = await t.pins.ask(t.ref(), reason);
  if (!pin) throw new PinNeededError(t.label, 'needs its PIN before it can sign, and none was given (dialog cancelled or unavailable, or no tt-agent unlock in time)');
  return pin;
}

/** CKR_PIN_LOCKED, after telling the broker (it forgets its copies). */
export function lockedError(t: HostToken): PinError {
  t.pins?.tell(t.ref(), 'locked');
  return new PinError(
    'C_Login',
    CKR_PIN_LOCKED,
    t.label,
    `PIN of token ${t.label} is locked (CKR_PIN_LOCKED)`,
    'Unblock it with the PUK (PIV cards: yubico-piv-tool -a unblock-pin) or the SO PIN (pkcs11-tool --login --login-type so --init-pin), then run tt-agent unlock.',
  );
}

/** logIn, and the broker hears of a rejected or locked PIN. */
export async function logInTelling(t: HostToken, pin: Buffer | null): Promise<void> {
  try {
    await t.logIn(pin);
  } catch (err) {
    if (err instanceof TokenError && err.ckr === 'CKR_PIN_INCORRECT') t.pins?.tell(t.ref(), 'rejected');
    if (err instanceof TokenError && err.ckr === 'CKR_PIN_LOCKED') throw lockedError(t);
    throw err;
  }
}
