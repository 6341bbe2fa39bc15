// A PKCS#11 session. PKCS#11 allows one active operation per session (a second C_SignInit
// while one is pending answers CKR_OPERATION_ACTIVE). A session has one user at a time (the
// pool hands each signature a session of its own; a tool uses its one session step by
// step), so the session does not queue: it refuses a call while one of its operations runs
// off the event loop, which is a bug in the caller, never a wait.
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
  /**
   * C_Sign on the calling thread instead of a worker thread. Cheaper by two thread wake-ups,
   * and right only when the caller knows the token answers fast and nothing else is waiting
   * for the event loop (sign.ts decides). Default false.
   */
  sync?: boolean;
}

export class Session {
  /** the operation running off the event loop (C_SignAsync, C_GenerateKeyPairAsync), if any */
  private pending?: Promise<unknown>;
  private closed = false;
  /** set by a successful login(), cleared by logout() */
  loggedIn = false;

  constructor(
    readonly token: Token,
    /** the binding's CK_SESSION_HANDLE */
    readonly handle: Buffer,
  ) {}

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
   * C_SignInit (+ the context-specific login a CKA_ALWAYS_AUTHENTICATE key needs) + C_Sign.
   * `sync`: C_Sign on this thread, before this returns; else on a worker thread, so the event
   * loop keeps serving while a smart card works for 50 ms and more.
   */
  async sign(key: Buffer, mechanism: Mechanism, data: Buffer, options: SignOptions = {}): Promise<Buffer> {
    this.assertIdle('C_SignInit');
    const lib = this.token.lib;
    call('C_SignInit', () => lib.C_SignInit(this.handle, mechanism, key));
    if (options.contextPin !== undefined) this.contextLogin(options.contextPin);
    const out = Buffer.alloc(SIGNATURE_BUFFER);
    if (options.sync) return call('C_Sign', () => lib.C_Sign(this.handle, data, out));
    return this.offThread('C_Sign', () => lib.C_SignAsync(this.handle, data, out));
  }

  /** C_GenerateKeyPair on a worker thread: an RSA-4096 generation takes seconds on real hardware. */
  generateKeyPair(mechanism: Mechanism, publicTemplate: Template, privateTemplate: Template): Promise<{ publicKey: Buffer; privateKey: Buffer }> {
    this.assertIdle('C_GenerateKeyPair');
    return this.offThread('C_GenerateKeyPair', () =>
      this.token.lib.C_GenerateKeyPairAsync(this.handle, mechanism, publicTemplate, privateTemplate),
    );
  }

  /** C_GenerateRandom: `n` bytes from the token's generator. */
  generateRandom(n: number): Buffer {
    this.assertIdle('C_GenerateRandom');
    return call('C_GenerateRandom', () => this.token.lib.C_GenerateRandom(this.handle, Buffer.alloc(n)));
  }

  /**
   * C_CloseSession, after the operation running off the event loop (if any) has returned,
   * so that its worker thread never meets a closed handle; errors are ignored (the token may
   * be gone). At once when idle, so that a C_Finalize right after cannot overtake it.
   */
  close(): Promise<void> {
    if (!this.pending) {
      this.closeNow();
      return Promise.resolve();
    }
    return this.pending.then(
      () => this.closeNow(),
      () => this.closeNow(),
    );
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

  /**
   * Runs a binding call that works on a worker thread; the session counts as busy until it
   * returns, which also covers the gap between C_SignInit and the end of C_Sign.
   */
  private offThread<T>(fn: string, start: () => Promise<T>): Promise<T> {
    let running: Promise<T>;
    try {
      running = start().catch((err: unknown) => {
        throw toTokenError(err, fn);
      });
    } catch (err) {
      throw toTokenError(err, fn);
    }
    this.pending = running;
    const clear = () => {
      if (this.pending === running) this.pending = undefined;
    };
    running.then(clear, clear);
    return running;
  }

  private contextLogin(pin: Buffer | null): void {
    try {
      call('C_Login', () =>
        this.token.lib.C_Login(this.handle, CKU_CONTEXT_SPECIFIC, pin === null ? '' : pin.toString('utf8')),
      );
    } catch (err) {
      this.abandonSign();
      throw err;
    }
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
    if (this.pending) {
      throw new Error(`${fn} called while another operation is in progress on this session (one user per session: take one from the pool)`);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('PKCS#11 session is closed');
  }
}

const PER_ATTRIBUTE_RETRY = new Set(['CKR_ATTRIBUTE_SENSITIVE', 'CKR_ATTRIBUTE_TYPE_INVALID']);
