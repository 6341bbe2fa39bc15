// Shared by keygen, selfsign and fix-ids: one token, one session, logged in as the user.
import * as fs from 'node:fs';
import { TokenError, type Session, type Token } from '../pkcs11';
import { triesLeftText } from '../pkcs11/login';
import { haveTerminal, NoTerminalError, PinEntryCancelled, readPinFromTty } from '../pin/tty';
import { UserError } from './user-error';
import { openTarget, type Target } from './token-target';

export interface ToolSession {
  target: Target;
  token: Token;
  session: Session;
  /** the PIN used to log in (null: PIN pad; undefined: the token needs none), for always-authenticate keys */
  pin: Buffer | null | undefined;
  close(): Promise<void>;
}

export interface OpenToolSessionOptions {
  /** a read/write session: the command changes the token */
  write: boolean;
  /** --pin-source FILE */
  pinSource?: string;
  /** the command's name, for hints */
  command: string;
  /** refusals that need the token but not the PIN, run before logging in */
  beforeLogin?: (token: Token) => void;
}

export async function openToolSession(spec: string, opts: OpenToolSessionOptions): Promise<ToolSession> {
  const target = openTarget(spec, (line) => process.stderr.write(`tt-agent: ${line}\n`));
  let session: Session | undefined;
  try {
    if (target.tokens.length > 1) {
      const labels = target.tokens.map((t) => `'${t.label}'`).join(', ');
      throw new UserError(
        `${target.tokens.length} tokens in ${target.module.path} (${labels}); ${opts.command} works on one`,
        `Name one with a URI, e.g. tt-agent ${opts.command} 'pkcs11:token=${encodeURIComponent(target.tokens[0].label)}?module-path=${target.module.path}' ...`,
        2,
      );
    }
    const token = target.tokens[0];
    if (opts.write && token.info.writeProtected) {
      throw new UserError(
        `token '${token.label}' is write-protected (CKF_WRITE_PROTECTED); ${opts.command} cannot change it`,
        "Lift the token's write protection (a switch, a policy, or a read-only module configuration) and try again.",
      );
    }
    opts.beforeLogin?.(token);
    session = token.openSession({ readWrite: opts.write });
    const pin = await logIn(session, token, target.pin, opts);
    const s = session;
    return {
      target,
      token,
      session: s,
      pin,
      close: async () => {
        await s.close();
        target.module.close();
      },
    };
  } catch (err) {
    if (session) await session.close();
    target.module.close();
    throw err;
  }
}

async function logIn(
  session: Session,
  token: Token,
  uriPin: Buffer | undefined,
  opts: OpenToolSessionOptions,
): Promise<Buffer | null | undefined> {
  if (!token.info.loginRequired) return undefined;
  let pin: Buffer | null | undefined = uriPin ?? (opts.pinSource !== undefined ? readPinFile(opts.pinSource) : undefined);
  if (pin === undefined) {
    if (token.info.protectedAuthenticationPath) {
      process.stderr.write(`tt-agent: enter the PIN for token '${token.label}' on the reader's PIN pad\n`);
      pin = null;
    } else {
      pin = await askPin(token, opts.command);
    }
  }
  try {
    session.login(pin);
  } catch (err) {
    if (err instanceof TokenError && err.ckr === 'CKR_PIN_INCORRECT') {
      let tries = '';
      try {
        tries = ` (${triesLeftText(token.refreshInfo())})`;
      } catch {
        // the flags are a courtesy; the error stands without them
      }
      throw new UserError(
        `PIN incorrect for token '${token.label}'${tries}`,
        'Check the PIN and try again; each wrong PIN counts down the token’s retry counter.',
        1,
        { cause: err },
      );
    }
    if (err instanceof TokenError && err.ckr === 'CKR_PIN_LOCKED') {
      throw new UserError(`the PIN of token '${token.label}' is locked`, "Unblock it with the SO PIN or PUK using the token's own tool.", 1, { cause: err });
    }
    throw err;
  }
  return pin;
}

async function askPin(token: Token, command: string): Promise<Buffer> {
  const noTerminal = () =>
    new UserError(
      `token '${token.label}' needs a PIN and there is no terminal to ask for it`,
      `Give it with --pin-source FILE, or in the URI: tt-agent ${command} 'pkcs11:token=${encodeURIComponent(token.label)}?pin-source=file:/path/to/pin' ...`,
    );
  if (!haveTerminal()) throw noTerminal();
  try {
    return await readPinFromTty(`PIN for token '${token.label}': `);
  } catch (err) {
    if (err instanceof NoTerminalError) throw noTerminal();
    if (err instanceof PinEntryCancelled) throw new UserError('PIN entry cancelled; nothing was changed', 'Run the command again when you have the PIN.');
    throw err;
  }
}

function readPinFile(file: string): Buffer {
  let text: Buffer;
  try {
    text = fs.readFileSync(file);
  } catch (err) {
    throw new UserError(
      `cannot read the PIN file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      'Give a readable file holding the PIN (one line), or leave out --pin-source to be asked.',
    );
  }
  // A trailing newline is what editors and `echo` leave; it is never part of a PIN.
  return text.subarray(0, text.length - (text.at(-1) === 0x0a ? (text.at(-2) === 0x0d ? 2 : 1) : 0));
}
