// C_GenerateRandom from one token, surviving its removal: on an error that means "the token
// went away" the session is dropped, the slots are re-read every few seconds until the
// token is back, and a new session is opened (old sessions never come back to life; OpenSC
// re-detects a card only when the slot list is read again).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  openModule,
  selectTokens,
  TokenError,
  TokenSelectionError,
  type Pkcs11Module,
  type Pkcs11Uri,
  type Session,
  type Token,
} from '../pkcs11';
import type { Log, RandomSource } from './feeder';
import type { Hinted } from '../hint';

// What a pulled token (or a reset reader) answers, as measured with OpenSC, ykcs11 and SoftHSM.
const GONE = new Set([
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_SLOT_ID_INVALID',
  'CKR_DEVICE_ERROR',
  'CKR_GENERAL_ERROR',
]);

export interface TokenSourceOptions {
  modulePath: string;
  uri?: Pkcs11Uri;
  /** PKCS#11 slot ID as TokenRNG's reader_slot; if no slot has this ID, the N-th token (from 0) */
  slot?: number;
  log: Log;
  /** how often slots are re-read while the token is away; default 3 s */
  retryMs?: number;
}

/** A token cannot give random data at all (not a removal): no point in waiting. */
export class RandomUnsupportedError extends Error implements Hinted {
  readonly hint = 'Use a token with a hardware random generator (C_GenerateRandom); tt-agent list shows the tokens.';
  constructor(readonly token: string, readonly tokenError: TokenError) {
    super(`token '${token}' cannot generate random data: C_GenerateRandom failed with ${tokenError.ckr}`, { cause: tokenError });
    this.name = 'RandomUnsupportedError';
  }
}

export class TokenRandomSource implements RandomSource {
  private module: Pkcs11Module | undefined;
  private session: Session | undefined;
  private tokenName = '';

  constructor(private readonly o: TokenSourceOptions) {}

  /** Loads the module now, so that a wrong path fails at start-up rather than in the loop. */
  open(): void {
    // C_Initialize without CKF_OS_LOCKING_OK: OpenSC can deadlock with it when a card is
    // pulled mid-call, and the feeder never calls the module from two threads.
    if (!this.module) this.module = openModule(this.o.modulePath, { osLocking: false });
  }

  async read(n: number, signal?: AbortSignal): Promise<Buffer> {
    for (;;) {
      signal?.throwIfAborted();
      const session = await this.connect(signal);
      try {
        const out = session.generateRandom(n);
        if (out.length !== n) throw new Error(`C_GenerateRandom returned ${out.length} bytes instead of ${n}`);
        return out;
      } catch (err) {
        if (!(err instanceof TokenError)) throw err;
        if (!GONE.has(err.ckr)) throw new RandomUnsupportedError(this.tokenName, err);
        this.o.log('warn', `token '${this.tokenName}' went away (${err.fn}: ${err.ckr}); waiting for it to come back`);
        await this.dropSession();
      }
    }
  }

  async close(): Promise<void> {
    await this.dropSession();
    this.module?.close();
    this.module = undefined;
  }

  /** The current session, or a new one once the token is (back) in its slot. */
  private async connect(signal?: AbortSignal): Promise<Session> {
    if (this.session) return this.session;
    this.open();
    let waitingLogged = false;
    for (;;) {
      try {
        const token = this.pickToken();
        this.session = token.openSession();
        const reconnect = this.tokenName !== '';
        this.tokenName = token.label;
        this.o.log('info', `${reconnect ? 'reconnected to' : 'reading random data from'} token '${token.label}' (serial ${token.serial})`);
        return this.session;
      } catch (err) {
        // Before the first connection, only "nothing inserted yet" is worth waiting for (a
        // service may start before the token is plugged in); a URI or slot that matches no
        // token is a mistake to report. Once connected, any absence is the token being away.
        const connectedBefore = this.tokenName !== '';
        const absent =
          (err instanceof TokenSelectionError &&
            (err.reason === 'no-token' || err.reason === 'no-slots' || (connectedBefore && err.reason === 'no-match'))) ||
          (err instanceof TokenError && GONE.has(err.ckr));
        if (!absent) throw err;
        if (!waitingLogged) {
          // Said before the first connection too: a feeder that waits silently looks hung.
          const until = connectedBefore ? '' : ' until one is inserted';
          this.o.log('info', `waiting for a token: no token present (${err.message}); checking again every ${(this.o.retryMs ?? 3000) / 1000} s${until}`);
          waitingLogged = true;
        }
      }
      await sleep(this.o.retryMs ?? 3000, undefined, { signal });
    }
  }

  private pickToken(): Token {
    // Re-read the slots every time: the token may have moved, and it is how OpenSC notices.
    this.module!.rescan();
    const tokens = selectTokens(this.module!, this.o.uri);
    if (this.o.slot === undefined) return tokens[0]!;
    const byId = tokens.find((t) => slotNumber(t) === this.o.slot);
    const found = byId ?? tokens[this.o.slot];
    if (!found) {
      throw new TokenSelectionError(
        this.module!.path,
        'no-match',
        `no token in slot ${this.o.slot} (slots with tokens: ${tokens.map((t) => slotNumber(t)).join(', ')})`,
        tokens.map((t) => t.label),
      );
    }
    return found;
  }

  private async dropSession(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.close();
  }
}

function slotNumber(t: Token): number {
  const id = t.slot.slotId;
  return Number(id.length >= 8 ? id.readBigUInt64LE(0) : id.readUInt32LE(0));
}
