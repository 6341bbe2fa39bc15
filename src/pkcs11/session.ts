// A PKCS#11 session. PKCS#11 allows one active operation per session (a second C_SignInit
// while one is pending answers CKR_OPERATION_ACTIVE), and C_Sign runs on a worker thread,
// so operations go through one queue: an operation starts only after the previous one has
// finished, and synchronous calls refuse to run while a signing operation is active.
import type { Mechanism, Template } from 'pkcs11js';
import { call, toTokenError, TokenError } from './errors';
import type { Token } from './token';

// CK_USER_TYPE
export const CKU_SO = 0;
export const CKU_USER = 1;
export const CKU_CONTEXT_SPECIFIC = 2;

// Large enough for an RSA-8192 signature; pkcs11js returns the used part.
const SIGNATURE_BUFFER = 1024;

export interface SignOptions {
  /**
   * For CKA_ALWAYS_AUTHENTICATE keys: the PIN for the CKU_CONTEXT_SPECIFIC login that must
   * follow C_SignInit (null: protected authentication path).
   */
  contextPin?: Buffer | null;
}

export class Session {
  private tail: Promise<unknown> = Promise.resolve();
  /** operations queued or running */
  private queued = 0;
  /** between C_SignInit and the end of C_Sign: the session's one operation slot is taken */
  private operationActive = false;
  private closed = false;
  /** set by a successful login(), cleared by logout() */
  loggedIn = false;

  constructor(
    readonly token: Token,
    /** the binding's CK_SESSION_HANDLE */
    readonly handle: Buffer,
  ) {}

  /** Runs `fn` after every earlier queued operation on this session has settled. */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    this.queued++;
    const run = async (): Promise<T> => fn();
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined).finally(() => this.queued--);
    return result;
  }

  /**
   * C_Login. `pin` null logs in through the protected authentication path (PIN pad).
   * An already logged-in session (another session of this application logged in, which
   * PKCS#11 shares per token) counts as success.
   */
  login(pin: Buffer | null, userType: number = CKU_USER): void {
    this.assertIdle('C_Login');
    // pkcs11js only takes the PIN as a JS string; an empty string stands in for NULL_PTR,
    // which PIN-pad modules accept as "ask on the device".
    const text = pin === null ? '' : pin.toString('utf8');
    try {
      call('C_Login', () => this.token.lib.C_Login(this.handle, userType, text));
    } catch (err) {
      if (!(err instanceof TokenError && err.ckr === 'CKR_USER_ALREADY_LOGGED_IN')) throw err;
    }
    if (userType !== CKU_CONTEXT_SPECIFIC) this.loggedIn = true;
  }

  logout(): void {
    this.assertIdle('C_Logout');
    try {
      call('C_Logout', () => this.token.lib.C_Logout(this.handle));
    } catch (err) {
      if (!(err instanceof TokenError && err.ckr === 'CKR_USER_NOT_LOGGED_IN')) throw err;
    }
    this.loggedIn = false;
  }

  /** All object handles matching `template` (C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal). */
  findObjects(template: Template): Buffer[] {
    this.assertIdle('C_FindObjectsInit');
    const lib = this.token.lib;
    call('C_FindObjectsInit', () => lib.C_FindObjectsInit(this.handle, template));
    const found: Buffer[] = [];
    try {
      for (;;) {
        const batch = call('C_FindObjects', () => lib.C_FindObjects(this.handle, 64));
        if (batch.length === 0) break;
        found.push(...batch);
      }
    } finally {
      call('C_FindObjectsFinal', () => lib.C_FindObjectsFinal(this.handle));
    }
    return found;
  }

  /**
   * Reads attributes; those the object does not have or will not reveal are left out of the
   * result. One call for all first; a module answers a whole template with
   * CKR_ATTRIBUTE_SENSITIVE or CKR_ATTRIBUTE_TYPE_INVALID if any one attribute is refused, so
   * then each is asked alone.
   */
  getAttributes(object: Buffer, types: number[]): Map<number, Buffer> {
    this.assertIdle('C_GetAttributeValue');
    const lib = this.token.lib;
    const out = new Map<number, Buffer>();
    try {
      const res = call('C_GetAttributeValue', () =>
        lib.C_GetAttributeValue(this.handle, object, types.map((type) => ({ type }))),
      );
      for (const a of res) if (a.value) out.set(a.type, a.value);
      return out;
    } catch (err) {
      if (!(err instanceof TokenError) || !PER_ATTRIBUTE_RETRY.has(err.ckr)) throw err;
    }
    for (const type of types) {
      try {
        const [a] = call('C_GetAttributeValue', () => lib.C_GetAttributeValue(this.handle, object, [{ type }]));
        if (a?.value) out.set(type, a.value);
      } catch (err) {
        if (!(err instanceof TokenError) || !PER_ATTRIBUTE_RETRY.has(err.ckr)) throw err;
      }
    }
    return out;
  }

  /**
   * C_SignInit + C_Sign, the signature itself computed off the event loop. Queued behind
   * any other operation on this session.
   */
  signAsync(key: Buffer, mechanism: Mechanism, data: Buffer, options: SignOptions = {}): Promise<Buffer> {
    return this.exclusive(async () => {
      this.assertOpen();
      this.assertIdle('C_SignInit');
      const lib = this.token.lib;
      call('C_SignInit', () => lib.C_SignInit(this.handle, mechanism, key));
      this.operationActive = true;
      try {
        if (options.contextPin !== undefined) {
          const pin = options.contextPin;
          try {
            call('C_Login', () =>
              lib.C_Login(this.handle, CKU_CONTEXT_SPECIFIC, pin === null ? '' : pin.toString('utf8')),
            );
          } catch (err) {
            this.abandonSign();
            throw err;
          }
        }
        try {
          return await lib.C_SignAsync(this.handle, data, Buffer.alloc(SIGNATURE_BUFFER));
        } catch (err) {
          throw toTokenError(err, 'C_Sign');
        }
      } finally {
        this.operationActive = false;
      }
    });
  }

  /** C_GenerateRandom: `n` bytes from the token's generator. */
  generateRandom(n: number): Buffer {
    this.assertIdle('C_GenerateRandom');
    return call('C_GenerateRandom', () => this.token.lib.C_GenerateRandom(this.handle, Buffer.alloc(n)));
  }

  /**
   * C_CloseSession once no operation is left in the queue (at once when idle, so that a
   * C_Finalize right after cannot overtake it); errors are ignored (the token may be gone).
   */
  close(): Promise<void> {
    if (this.queued === 0) {
      this.closeNow();
      return Promise.resolve();
    }
    return this.exclusive(() => this.closeNow());
  }

  private closeNow(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.token.lib.C_CloseSession(this.handle);
    } catch {
      // A removed token has already dropped its sessions.
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // A failed context-specific login leaves the signing operation active, and every later
  // C_SignInit on this session would answer CKR_OPERATION_ACTIVE. PKCS#11 2.40 has no cancel
  // call; a C_Sign that fails ends the operation (section 5.2), so one is spent on purpose.
  private abandonSign(): void {
    try {
      this.token.lib.C_Sign(this.handle, Buffer.alloc(0), Buffer.alloc(SIGNATURE_BUFFER));
    } catch {
      // expected: CKR_USER_NOT_LOGGED_IN or similar, and the operation is over
    }
  }

  private assertIdle(fn: string): void {
    this.assertOpen();
    if (this.operationActive) {
      throw new Error(`${fn} called while a signature is in progress on this session; use session.exclusive()`);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('PKCS#11 session is closed');
  }
}

const PER_ATTRIBUTE_RETRY = new Set(['CKR_ATTRIBUTE_SENSITIVE', 'CKR_ATTRIBUTE_TYPE_INVALID']);
