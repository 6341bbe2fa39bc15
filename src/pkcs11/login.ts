// Logging in to a token for the agent: once per token (PKCS#11 shares the login among the
// application's sessions), with PIN safety rules that protect the token's retry counter.
import { TokenError } from './errors';
import { isTpm2Pkcs11, TPM_CONTEXTS_HINT } from './module-services';
import { pkcs11String } from './strings';
import type { SessionPool } from './session-pool';
import type { TokenInfo } from './token';
import type { Hinted } from '../hint';

export type LoginOutcome =
  /** C_Login succeeded (or the token was already logged in). */
  | 'logged-in'
  /** The token needs no login (CKF_LOGIN_REQUIRED clear). */
  | 'not-needed'
  /** No PIN given: keys come from public objects; a login happens when a signature needs it. */
  | 'deferred';

/** What the token says about its retry counter, from the CKF_USER_PIN_* flags; the exact number is not in PKCS#11. */
export function triesLeftText(info: TokenInfo): string {
  if (info.userPinLocked) return 'PIN locked';
  if (info.userPinFinalTry) return '1 try left';
  if (info.userPinCountLow) return 'few tries left';
  return 'the token does not say how many tries are left';
}

/** A PIN problem of one token: CKR_PIN_INCORRECT, CKR_PIN_LOCKED, or a refusal to spend a last try. */
export class PinError extends TokenError implements Hinted {
  constructor(
    fn: string,
    code: number,
    readonly token: string,
    message: string,
    override readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(fn, code, options);
    this.name = 'PinError';
    this.message = message;
  }
}

// CK_RV values (PKCS#11 v2.40 section 11.1).
export const CKR_PIN_INCORRECT = 0xa0;
export const CKR_PIN_LOCKED = 0xa4;

/** C_Login on a tpm2-pkcs11 token failed because the TPM is full of contexts left behind (see TPM_CONTEXTS_HINT). */
export class TpmContextsError extends TokenError implements Hinted {
  override readonly hint = TPM_CONTEXTS_HINT;
  constructor(
    cause: TokenError,
    readonly token: string,
  ) {
    super('C_Login', cause.code, { cause });
    this.name = 'TpmContextsError';
    // The whole story in the message too: load reports and the agent log carry only the message.
    this.message =
      `C_Login on TPM token ${token} failed (${cause.ckr}): the TPM is full of objects an earlier process left loaded ` +
      '(a module host that ended without C_Finalize); run tt-agent remove on the module, clear them with tpm2_flushcontext -t and ' +
      'tpm2_flushcontext -s, then add the token again';
  }
}

// What tpm2-pkcs11 1.9 answers when the TPM cannot load another object or start a session.
const TPM_FULL = new Set(['CKR_GENERAL_ERROR', 'CKR_DEVICE_MEMORY', 'CKR_DEVICE_ERROR']);

async function onTpm2Pkcs11(pool: SessionPool): Promise<boolean> {
  try {
    const i = await pool.gate.run(() => pool.token.lib.C_GetInfo());
    return isTpm2Pkcs11({ manufacturer: pkcs11String(i.manufacturerID), description: pkcs11String(i.libraryDescription) });
  } catch {
    return false;
  }
}

export interface LoginOptions {
  /**
   * The PIN was not typed for this login but kept from an earlier one (re-login after the
   * token came back). Such a PIN is never spent on the token's final try.
   */
  remembered?: boolean;
}

/**
 * Logs the token of `pool` in with `pin` (null: PIN pad if the token has one, else deferred).
 * On CKR_PIN_INCORRECT the token's flags are read again so the message can say how many tries remain.
 */
export async function loginToken(pool: SessionPool, pin: Buffer | null, options: LoginOptions = {}): Promise<LoginOutcome> {
  const token = pool.token;
  const info = await pool.gate.run(() => token.refreshInfo());
  if (!info.loginRequired) return 'not-needed';
  const label = token.label;
  if (info.userPinLocked) {
    throw new PinError('C_Login', CKR_PIN_LOCKED, label, `PIN of token ${label} is locked`, `Unblock it with the SO PIN or PUK (e.g. pkcs11-tool --init-pin --login --login-type so), then add the token again.`);
  }
  if (pin === null && !info.protectedAuthenticationPath) return 'deferred';
  if (options.remembered && info.userPinFinalTry) {
    throw new PinError('C_Login', CKR_PIN_INCORRECT, label, `token ${label} is at its final PIN try; a remembered PIN is not risked on it`, `Run tt-agent add again and type the PIN.`);
  }
  try {
    await pool.use((s) => s.login(pin));
    return 'logged-in';
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    if (err.ckr === 'CKR_PIN_INCORRECT') {
      const after = await pool.gate.run(() => token.refreshInfo()).catch(() => info);
      throw new PinError('C_Login', err.code, label, `PIN incorrect for token ${label} (${triesLeftText(after)})`, `Check the PIN and add the token again; each wrong PIN counts down the token's retry counter.`, { cause: err });
    }
    if (err.ckr === 'CKR_PIN_LOCKED') {
      throw new PinError('C_Login', err.code, label, `PIN of token ${label} is locked`, `Unblock it with the SO PIN or PUK, then add the token again.`, { cause: err });
    }
    if (TPM_FULL.has(err.ckr) && (await onTpm2Pkcs11(pool))) throw new TpmContextsError(err, label);
    throw err;
  }
}
