// One token as the module host keeps it: its sessions, its login, the PIN it was given, its
// keys with their object handles, and the way back after the token was pulled or reset.
import { findKeyPairs, type KeyPair } from '../pkcs11/discover';
import { TokenError } from '../pkcs11/errors';
import { samePublicKey } from '../pkcs11/key-material';
import { loginToken, type LoginOutcome } from '../pkcs11/login';
import type { Pkcs11Module } from '../pkcs11/module';
import { SessionPool, type ModuleGate } from '../pkcs11/session-pool';
import { signForSsh } from '../pkcs11/sign';
import type { Token } from '../pkcs11/token';
import type { PublicKey } from '../protocol/public-key';
import type { TokenStatus } from './messages';

/** A key the host has handed to the agent. `pair` is refreshed whenever handles may be stale. */
export interface HostKey {
  blob: Buffer;
  publicKey: PublicKey;
  id: Buffer;
  label: string;
  pair?: KeyPair;
}

// Errors after which sessions and object handles can no longer be trusted (vcard notes: a
// removed card answers these, and OpenSC only notices re-insertion on C_GetSlotList).
const RECOVERABLE = new Set([
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_DEVICE_ERROR',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_GENERAL_ERROR',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
]);

/** The token is not in its reader (or not found again after a removal). */
export class TokenAbsentError extends Error {
  readonly hint = 'Insert the token; its keys sign again on the next request, without adding them again.';
  constructor(readonly token: string) {
    super(`token ${token} is not present`);
    this.name = 'TokenAbsentError';
  }
}

/** A signature needs a login and no PIN is known for the token. */
export class PinNeededError extends Error {
  readonly ckr = 'CKR_USER_NOT_LOGGED_IN';
  readonly hint: string;
  constructor(readonly token: string) {
    super(`token ${token} needs its PIN before it can sign`);
    this.name = 'PinNeededError';
    this.hint = `Add the token again with its PIN: tt-agent add (or ssh-add -e MODULE; ssh-add -s MODULE).`;
  }
}

export class HostToken {
  readonly keys: HostKey[] = [];
  pool: SessionPool;
  present = true;
  login: LoginOutcome = 'deferred';
  lastError?: { ckr?: string; message: string; at: string };
  /** Kept for re-login after a removal and for CKA_ALWAYS_AUTHENTICATE keys; zeroed on logout. */
  private pin: Buffer | null = null;
  /** Bumped by each recovery, so signatures that failed on old sessions do not recover twice. */
  private generation = 0;
  private recovering?: Promise<void>;

  constructor(
    public token: Token,
    private readonly module: Pkcs11Module,
    private readonly gate: ModuleGate,
    private readonly log: (level: 'info' | 'warn' | 'error', message: string) => void,
  ) {
    this.pool = new SessionPool(token, gate);
  }

  get label(): string {
    return this.token.label;
  }

  get serial(): string {
    return this.token.serial;
  }

  /** Logs in with `pin` (copied and kept on success). Throws PinError on a wrong or locked PIN. */
  async logIn(pin: Buffer | null, remembered = false): Promise<LoginOutcome> {
    try {
      this.login = await loginToken(this.pool, pin, { remembered });
    } catch (err) {
      this.noteError(err);
      if (err instanceof TokenError && err.ckr.startsWith('CKR_PIN_')) this.forgetPin();
      throw err;
    }
    if (this.login === 'logged-in' && pin && pin !== this.pin) {
      this.forgetPin();
      this.pin = Buffer.from(pin);
    }
    return this.login;
  }

  /** Key pairs on the token as the current login lets us see them. */
  findKeyPairs(): Promise<KeyPair[]> {
    return this.pool.use((s) => findKeyPairs(s, { privateVisible: this.login !== 'deferred' }));
  }

  /** Signs with `key`; after a removal, reset or stale handle: recover once and retry. */
  async sign(key: HostKey, data: Buffer, flags: number): Promise<Buffer> {
    const generation = this.generation;
    try {
      if (!this.present) throw new TokenAbsentError(this.label);
      return await this.signOnce(key, data, flags);
    } catch (err) {
      if (!(err instanceof TokenAbsentError) && !(err instanceof TokenError && RECOVERABLE.has(err.ckr))) {
        this.noteError(err);
        throw err;
      }
      if (err instanceof TokenError) {
        this.noteError(err);
        this.log('warn', `token ${this.label}: ${err.fn} answered ${err.ckr}; reconnecting`);
      }
      if (this.generation === generation) await this.recover();
      try {
        return await this.signOnce(key, data, flags);
      } catch (again) {
        this.noteError(again);
        throw again;
      }
    }
  }

  private signOnce(key: HostKey, data: Buffer, flags: number): Promise<Buffer> {
    const pair = key.pair;
    if (!pair?.privateKey) {
      if (this.login === 'deferred') throw new PinNeededError(this.label);
      throw new Error(`key ${key.label || key.id.toString('hex')} is no longer on token ${this.label}`);
    }
    const options = pair.alwaysAuthenticate ? { contextPin: this.pin } : {};
    if (pair.alwaysAuthenticate && !this.pin && !this.token.info.protectedAuthenticationPath) {
      throw new PinNeededError(this.label);
    }
    return this.pool.use((s) => signForSsh(s, pair, data, flags, options));
  }

  /** One recovery at a time; everyone who failed meanwhile waits for the same one. */
  recover(): Promise<void> {
    if (!this.recovering) {
      this.recovering = this.reconnect().finally(() => {
        this.recovering = undefined;
      });
    }
    return this.recovering;
  }

  // Forget every session and object handle (a module may reuse their values for other
  // things), find the token again by serial and label, log in with the kept PIN, and find
  // each key again by its public key, preferring the same CKA_ID.
  private async reconnect(): Promise<void> {
    this.generation++;
    const old = this.pool;
    await old.drop().catch(() => undefined);
    for (const k of this.keys) k.pair = undefined;
    const scan = await this.gate.run(() => this.module.rescan());
    const again = scan.tokens.find((t) => t.serial === this.serial && t.label === this.label);
    if (!again) {
      if (this.present) this.log('warn', `token ${this.label} is not present; its keys fail until it is back`);
      this.present = false;
      this.pool = new SessionPool(this.token, this.gate);
      await this.pool.drop();
      throw new TokenAbsentError(this.label);
    }
    this.token = again;
    this.pool = new SessionPool(again, this.gate);
    if (!this.present) this.log('info', `token ${this.label} is back`);
    this.present = true;
    this.login = 'deferred';
    await this.logIn(this.pin, true);
    const pairs = await this.findKeyPairs();
    for (const k of this.keys) {
      const candidates = pairs.filter((p) => p.privateKey && p.publicKey && samePublicKey(p.publicKey, k.publicKey));
      k.pair = candidates.find((p) => p.id.equals(k.id)) ?? candidates[0];
    }
  }

  async logOut(): Promise<void> {
    this.forgetPin();
    if (this.login !== 'logged-in') return;
    await this.pool.use((s) => s.logout()).catch((err) => this.noteError(err));
    this.login = 'deferred';
  }

  async close(): Promise<void> {
    this.forgetPin();
    await this.pool.drop().catch(() => undefined);
  }

  status(): TokenStatus {
    const info = this.token.info;
    const pinState: string[] = [];
    if (info.userPinCountLow) pinState.push('CKF_USER_PIN_COUNT_LOW');
    if (info.userPinFinalTry) pinState.push('CKF_USER_PIN_FINAL_TRY');
    if (info.userPinLocked) pinState.push('CKF_USER_PIN_LOCKED');
    const s: TokenStatus = {
      token: this.label,
      serial: this.serial,
      slot: slotNumber(this.token),
      present: this.present,
      loggedIn: this.login === 'logged-in',
      flags: info.flags,
      pinState,
      keys: this.keys.length,
      sessions: this.pool.sessions,
    };
    if (this.lastError) s.lastError = this.lastError;
    return s;
  }

  noteError(err: unknown): void {
    const e = err as { ckr?: unknown; message?: unknown };
    this.lastError = {
      ckr: typeof e?.ckr === 'string' ? e.ckr : undefined,
      message: typeof e?.message === 'string' ? e.message : String(err),
      at: new Date().toISOString(),
    };
  }

  private forgetPin(): void {
    this.pin?.fill(0);
    this.pin = null;
  }
}

/** CK_SLOT_ID as a number (the binding hands it out as a native-endian CK_ULONG buffer). */
function slotNumber(t: Token): number {
  const b = t.slot.slotId;
  return b.length === 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
}
