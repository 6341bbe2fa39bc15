// `tt-agent add --remember-pin`: after the agent has logged in with the PIN the user typed,
// the CLI stores it in the OS keyring for each token the agent reported as loaded.
import { openKeyring, type KeyringStore } from './keyring';
import { describeToken, type TokenRef } from './token-ref';

export type RememberResult = { ok: true; message: string } | { ok: false; message: string };

/**
 * Stores a copy of `pin` for `token` (serial and label as the token reports them; the caller
 * keeps and zeroes its Buffer). Never throws: the result says what happened, in one line.
 */
export async function rememberPin(token: TokenRef, pin: Buffer, opts: { keyring?: KeyringStore | null } = {}): Promise<RememberResult> {
  let why = 'no OS keyring available';
  const store = opts.keyring !== undefined ? opts.keyring : await openKeyring({ log: (line) => (why = line) });
  if (!store) return { ok: false, message: why };
  try {
    await store.set(token, pin);
    return { ok: true, message: `remembered the PIN of token ${describeToken(token)} in the OS keyring (tt-agent forget-pin removes it)` };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}
