// Sessions for signing, several per token so that signatures on one token run in parallel
// where the module allows it, and the rule for when it does not.
//
// PKCS#11 gives each session one active operation at a time, and login state per token and
// application (PKCS#11 2.40 section 5.6: logging in on one session logs in all of them), so
// a pool of sessions shares one login and hands each signature a session of its own.
import { TokenError } from './errors';
import type { Session } from './session';
import type { Token } from './token';

/**
 * One per module: the rule for calling into it, and how many pool operations are under way
 * on it (all its tokens; a module host holds one module, so that is the whole process).
 *
 * `serialized` is for modules initialised without CKF_OS_LOCKING_OK (C_Initialize(NULL)),
 * which the application must never call from two threads at once. OpenSC needs that: with
 * CKF_OS_LOCKING_OK it deadlocks when a card operation meets a removal (vcard notes), so
 * there every call, including the C_Sign on a worker thread, waits for the previous one.
 */
export class ModuleGate {
  private tail: Promise<unknown> = Promise.resolve();
  /** pool operations started (waiting for a session or running) and not yet finished */
  private operations = 0;

  constructor(readonly serialized: boolean) {}

  enter(): void {
    this.operations++;
  }

  leave(): void {
    this.operations--;
  }

  /** True when the caller's own operation is the only one under way on the module. */
  get alone(): boolean {
    return this.operations <= 1;
  }

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    if (!this.serialized) {
      try {
        return Promise.resolve(fn());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const go = async (): Promise<T> => fn();
    const result = this.tail.then(go, go);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** Library names whose modules must be initialised without CKF_OS_LOCKING_OK (see ModuleGate). */
const NO_OS_LOCKING = [/opensc-pkcs11/, /p11-kit-proxy/, /onepin-opensc-pkcs11/];

export function needsSerializedCalls(modulePath: string): boolean {
  const base = modulePath.split('/').pop() ?? modulePath;
  return NO_OS_LOCKING.some((re) => re.test(base));
}

// A session that failed with one of these is no longer usable; the pool drops it.
const SESSION_GONE = new Set([
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_DEVICE_ERROR',
  'CKR_GENERAL_ERROR',
]);

export interface SessionPoolOptions {
  /** Most sessions open at once; signatures beyond that wait. Default 4 (1 when serialized). */
  size?: number;
}

export class SessionPool {
  private readonly idle: Session[] = [];
  private readonly all = new Set<Session>();
  private readonly waiters: Array<{ resolve: (s: Session) => void; reject: (e: Error) => void }> = [];
  private readonly size: number;
  private opening = 0;
  private dropped = false;

  constructor(
    readonly token: Token,
    readonly gate: ModuleGate,
    options: SessionPoolOptions = {},
  ) {
    // More sessions than one at a time buy nothing when the module is serialized.
    this.size = gate.serialized ? 1 : Math.max(1, options.size ?? 4);
  }

  /** Sessions currently open. */
  get sessions(): number {
    return this.all.size;
  }

  /**
   * Runs `fn` on a session no other operation is using, under the module's calling rule.
   * `alone` tells `fn` that no other operation on the module is waiting or running: then
   * nothing else could use the event loop while `fn` holds it (sign.ts signs synchronously).
   * A session that fails in a way that ends it (token removed, handle invalid) is closed
   * instead of being handed out again.
   */
  async use<T>(fn: (s: Session, alone: boolean) => Promise<T> | T): Promise<T> {
    this.gate.enter();
    let session: Session | undefined;
    let broken = false;
    try {
      session = await this.acquire();
      const s = session;
      return await this.gate.run(() => fn(s, this.gate.alone));
    } catch (err) {
      broken = err instanceof TokenError && SESSION_GONE.has(err.ckr);
      throw err;
    } finally {
      this.gate.leave();
      if (session) this.release(session, broken);
    }
  }

  /**
   * Closes every session and refuses new ones; used when the token went away, because a
   * module may hand a dead session's handle value to a new session (OpenSC does).
   */
  async drop(): Promise<void> {
    this.dropped = true;
    const sessions = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    for (const w of this.waiters.splice(0)) w.reject(this.droppedError());
    await Promise.all(sessions.map((s) => this.gate.run(() => s.close())));
  }

  private async acquire(): Promise<Session> {
    if (this.dropped) throw this.droppedError();
    const s = this.idle.pop();
    if (s) return s;
    if (this.all.size + this.opening < this.size) {
      this.opening++;
      let opened: Session;
      try {
        opened = await this.gate.run(() => this.token.openSession());
      } catch (err) {
        this.opening--;
        // A waiter queued behind this opening counted on its session: it tries for itself
        // now, else it would wait for a release that may never come (token just pulled).
        const next = this.waiters.shift();
        if (next) this.acquire().then(next.resolve, next.reject);
        throw err;
      }
      this.opening--;
      this.all.add(opened);
      return opened;
    }
    return new Promise<Session>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private droppedError(): Error {
    return new Error(`sessions of token ${this.token.label} were closed`);
  }

  private release(s: Session, broken: boolean): void {
    if (broken || this.dropped || !this.all.has(s)) {
      this.all.delete(s);
      if (!this.dropped) void this.gate.run(() => s.close());
      // A waiter would otherwise wait for a session that is never coming back.
      const next = this.waiters.shift();
      if (next) this.acquire().then(next.resolve, next.reject);
      return;
    }
    const next = this.waiters.shift();
    if (next) next.resolve(s);
    else this.idle.push(s);
  }
}
