// CKA_ALWAYS_AUTHENTICATE keys: C_SignInit, C_Login(CKU_CONTEXT_SPECIFIC), C_Sign for every
// signature. The PIN comes from the agent's broker, which decides whether its cache may
// answer (TT_AGENT_CONTEXT_PIN) or a person is asked each time. A failed context login ends
// the signing operation (Session.signAsync), so the session and the token's other keys keep
// working.
import { TokenError } from '../pkcs11/errors';
import { PinError, triesLeftText } from '../pkcs11/login';
import { signForSsh } from '../pkcs11/sign';
import { privatePair, type HostKey, type HostToken } from './host-token';
import { LOGIN_LOST } from './token-errors';
import { askPin, lockedError, logInTelling } from './token-login';

export async function signWithContextLogin(t: HostToken, key: HostKey, data: Buffer, flags: number): Promise<Buffer> {
  let contextPin: Buffer | null = null;
  if (!t.token.info.protectedAuthenticationPath) {
    const info = await t.gate.run(() => t.token.refreshInfo());
    contextPin = await askPin(t, info, { contextSpecific: true, keyLabel: key.label || undefined });
  }
  try {
    try {
      const pair = privatePair(t, key);
      return await t.pool.use((s) => signForSsh(s, pair, data, flags, { contextPin }));
    } catch (err) {
      // OpenSC answers the context login with CKR_OPERATION_NOT_INITIALIZED once the card
      // forgot its user login (a PIV card does after any failed VERIFY). The typed PIN was
      // not spent, and is not yet proven: log in again with the PIN the broker keeps for the
      // user login (it proved itself; a prompt only when none is kept), then the same
      // signature once more with the typed one. Never a try spent on an unproven PIN twice.
      if (!(err instanceof TokenError && err.fn === 'C_Login' && LOGIN_LOST.has(err.ckr))) throw err;
      t.log('warn', `token ${t.label}: context-specific login answered ${err.ckr}; logging in again`);
      t.login = 'deferred';
      await t.recover();
      if (t.login === 'deferred') {
        const info = await t.gate.run(() => t.token.refreshInfo());
        const loginPin = info.protectedAuthenticationPath ? null : await askPin(t, info, { keyLabel: key.label || undefined });
        try {
          await logInTelling(t, loginPin);
        } finally {
          loginPin?.fill(0);
        }
      }
      await t.reconnect.findKeysAgain();
      const again = privatePair(t, key);
      return await t.pool.use((s) => signForSsh(s, again, data, flags, { contextPin }));
    }
  } catch (err) {
    if (err instanceof TokenError && err.ckr === 'CKR_PIN_INCORRECT') {
      // The broker forgets the rejected PIN (and keeps a different one that proved itself
      // at login: a PIV card drops its login after a failed VERIFY, and the token's other
      // keys must keep signing after the re-login).
      t.pins?.tell(t.ref(), 'context-rejected');
      const after = await t.gate.run(() => t.token.refreshInfo()).catch(() => t.token.info);
      throw new PinError(
        'C_Login',
        err.code,
        t.label,
        `PIN incorrect for key ${key.label || key.id.toString('hex')} of token ${t.label} (${triesLeftText(after)}); not retried`,
        'Sign again and type the right PIN; each wrong PIN counts down the retry counter.',
        { cause: err },
      );
    }
    if (err instanceof TokenError && err.ckr === 'CKR_PIN_LOCKED') throw lockedError(t);
    throw err;
  } finally {
    contextPin?.fill(0);
  }
}
