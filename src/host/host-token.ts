// One token as the module host keeps it: its sessions, its login, the PIN it was given, its
// keys with their object handles, and the way back after the token was pulled or reset.
//
// Hot-plug (vcard notes, ../shared/vcard/README.md): OpenSC notices a re-inserted card only
// on C_GetSlotList / C_GetSlotInfo, old sessions stay invalid after re-insertion, and the
// module reuses handle values, so every session and object handle is forgotten on the way
// back. A presence watch (one slot scan per second per module, four while a token is out)
// notices removals and re-insertions without waiting for a signature to fail, so the card is
// logged in again and its keys found again before the next signature asks.
import { findKeyPairs, type KeyPair } from '../pkcs11/discover';
import { TokenError } from '../pkcs11/errors';
import { samePublicKey } from '../pkcs11/key-material';
import { loginToken, PinError, triesLeftText, type LoginOutcome } from '../pkcs11/login';
import type { Pkcs11Module } from '../pkcs11/module';
import { SessionPool, type ModuleGate } from '../pkcs11/session-pool';
import { signForSsh } from '../pkcs11/sign';
import type { Token, TokenInfo } from '../pkcs11/token';
import type { PinRequestReason } from '../pin/prompt-text';
import type { TokenRef } from '../pin/token-ref';
import type { PublicKey } from '../protocol/public-key';
import { fingerprintSha256 } from '../protocol/fingerprint';
import { timingSafeEqual } from 'node:crypto';
import { readPinPolicy, type PinPolicy } from '../agent/pin-policy';
import type { TokenStatus } from './messages';
import type { PinSource } from './pin-request';

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
// CKR_USER_NOT_LOGGED_IN: the card was reset by another program and forgot its login.
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

// A context-specific C_Login answering these means the token is no longer logged in.
const LOGIN_LOST = new Set(['CKR_OPERATION_NOT_INITIALIZED', 'CKR_USER_NOT_LOGGED_IN']);

const PRESENT_POLL_MS = 1000;
const ABSENT_POLL_MS = 250;

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
  constructor(
    readonly token: string,
    why = 'needs its PIN before it can sign',
  ) {
    super(`token ${token} ${why}`);
    this.name = 'PinNeededError';
    this.hint = `Give the PIN with: tt-agent unlock '${token}' (or set SSH_ASKPASS for a dialog), then try again.`;
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
  private pinGivenAt = 0;
  private absentSince = 0;
  /** Bumped by each recovery, so signatures that failed on old sessions do not recover twice. */
  private generation = 0;
  private recovering?: Promise<void>;
  private loggingIn?: Promise<void>;
  private closed = false;
  private readonly policy: PinPolicy;

  constructor(
    public token: Token,
    private readonly module: Pkcs11Module,
    private readonly gate: ModuleGate,
    private readonly log: (level: 'info' | 'warn' | 'error', message: string) => void,
    private readonly pins?: PinSource,
    policy?: PinPolicy,
  ) {
    this.pool = new SessionPool(token, gate);
    this.policy = policy ?? readPinPolicy();
    watch(module, gate, this);
    this.pins?.tell(this.ref(), 'present');
  }

  get label(): string {
    return this.token.label;
  }

  get serial(): string {
    return this.token.serial;
  }

  ref(): TokenRef {
    const i = this.token.info;
    return { label: i.label, serial: i.serial, manufacturer: i.manufacturer, model: i.model };
  }

  /** Logs in with `pin` (copied and kept on success). Throws PinError on a wrong or locked PIN. */
  async logIn(pin: Buffer | null, remembered = false): Promise<LoginOutcome> {
    // A token stays logged in for the whole module, so C_Login would answer
    // CKR_USER_ALREADY_LOGGED_IN to any PIN: a second `add` with a wrong PIN must not look accepted.
    if (this.login === 'logged-in' && pin && pin.length > 0 && this.pin && !samePin(pin, this.pin)) {
      throw new PinError(
        'C_Login',
        CKR_USER_ALREADY_LOGGED_IN,
        this.label,
        `token ${this.label} is already logged in with a different PIN`,
        'Run tt-agent remove for the module first to log in with another PIN.',
      );
    }
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
      this.pinGivenAt = Date.now();
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
      const started = Date.now();
      // Also when the presence watch already forgot the handles (generation moved on) but
      // the token is out or this key has no handle yet: recover() finds out which.
      if (this.generation === generation || !this.present || !key.pair) await this.recover();
      try {
        const sig = await this.signOnce(key, data, flags);
        if (err instanceof TokenError) this.log('info', `token ${this.label}: signed again after reconnecting (${Date.now() - started} ms)`);
        return sig;
      } catch (again) {
        this.noteError(again);
        throw again;
      }
    }
  }

  private async signOnce(key: HostKey, data: Buffer, flags: number): Promise<Buffer> {
    if (this.login === 'deferred' && this.token.info.loginRequired) await this.loginOnDemand(key);
    const pair = key.pair;
    if (!pair?.privateKey) throw new Error(`key ${key.label || key.id.toString('hex')} is no longer on token ${this.label}`);
    if (pair.alwaysAuthenticate) return this.signWithContextLogin(key, pair, data, flags);
    return this.pool.use((s, alone) => signForSsh(s, pair, data, flags, { alone }));
  }

  /** The kept PIN while its lifetime lasts; past it, forgotten. */
  private keptPin(): Buffer | null {
    if (this.pin && Date.now() - this.pinGivenAt >= this.policy.lifetimeMs) {
      this.log('info', `token ${this.label}: the PIN's lifetime is over; it is forgotten`);
      this.forgetPin();
    }
    return this.pin;
  }

  /**
   * The first signature of a token added without a PIN (or whose PIN was dropped): ask the
   * agent for one, log in, and find the private keys that the login made visible. One login
   * at a time: concurrent signatures wait for the same one.
   */
  private loginOnDemand(key: HostKey): Promise<void> {
    if (!this.loggingIn) {
      this.loggingIn = this.doLoginOnDemand(key).finally(() => {
        this.loggingIn = undefined;
      });
    }
    return this.loggingIn;
  }

  private async doLoginOnDemand(key: HostKey): Promise<void> {
    const info = await this.gate.run(() => this.token.refreshInfo());
    if (info.loginRequired) {
      let pin: Buffer | null = null;
      let remembered = false;
      if (!info.protectedAuthenticationPath) {
        const kept = info.userPinFinalTry ? null : this.keptPin();
        if (kept) {
          pin = Buffer.from(kept);
          remembered = true;
        } else {
          pin = await this.askPin(info, { keyLabel: key.label || undefined });
        }
      }
      try {
        await this.logInTelling(pin, remembered);
      } finally {
        pin?.fill(0);
      }
    } else {
      this.login = 'not-needed';
    }
    await this.findKeysAgain();
  }

  /** A PIN from the agent (cache, keyring, dialog or `tt-agent unlock`); throws PinNeededError when none comes. */
  private async askPin(info: TokenInfo, why: PinRequestReason): Promise<Buffer> {
    if (info.userPinLocked) throw this.lockedError();
    if (!this.pins) throw new PinNeededError(this.label);
    const reason: PinRequestReason = { ...why, triesLeft: info.userPinFinalTry ? 'final' : info.userPinCountLow ? 'low' : 'ok' };
    const pin = await this.pins.ask(this.ref(), reason);
    if (!pin) throw new PinNeededError(this.label, 'needs its PIN before it can sign, and none was given (dialog cancelled or unavailable, or no tt-agent unlock in time)');
    return pin;
  }

  private lockedError(): PinError {
    this.pins?.tell(this.ref(), 'locked');
    return new PinError('C_Login', 0xa4, this.label, `PIN of token ${this.label} is locked (CKR_PIN_LOCKED)`, 'Unblock it with the PUK (PIV cards: yubico-piv-tool -a unblock-pin) or the SO PIN (pkcs11-tool --login --login-type so --init-pin), then run tt-agent unlock.');
  }

  /** logIn, and the broker hears of a rejected or locked PIN (it then forgets its copies). */
  private async logInTelling(pin: Buffer | null, remembered: boolean): Promise<void> {
    try {
      await this.logIn(pin, remembered);
    } catch (err) {
      if (err instanceof TokenError && err.ckr === 'CKR_PIN_INCORRECT') this.pins?.tell(this.ref(), 'rejected');
      if (err instanceof TokenError && err.ckr === 'CKR_PIN_LOCKED') throw this.lockedError();
      throw err;
    }
  }

  /**
   * CKA_ALWAYS_AUTHENTICATE: C_SignInit, C_Login(CKU_CONTEXT_SPECIFIC), C_Sign for every
   * signature. The PIN comes from the kept one when the policy allows the cache, else from
   * the agent. A failed context login ends the signing operation (Session.sign), so the
   * session and the token's other keys keep working.
   */
  private async signWithContextLogin(key: HostKey, pair: KeyPair, data: Buffer, flags: number): Promise<Buffer> {
    let contextPin: Buffer | null = null;
    if (!this.token.info.protectedAuthenticationPath) {
      const info = await this.gate.run(() => this.token.refreshInfo());
      const kept = this.policy.contextPinFromCache && !info.userPinFinalTry ? this.keptPin() : null;
      contextPin = kept ? Buffer.from(kept) : await this.askPin(info, { contextSpecific: true, keyLabel: key.label || undefined });
    }
    try {
      try {
        return await this.pool.use((s, alone) => signForSsh(s, pair, data, flags, { contextPin, alone }));
      } catch (err) {
        // OpenSC answers the context login with CKR_OPERATION_NOT_INITIALIZED once the card
        // forgot its user login (a PIV card does after any failed VERIFY). The typed PIN was
        // not spent: log in again (kept PIN, else this one), then the same signature once more.
        if (!(err instanceof TokenError && err.fn === 'C_Login' && LOGIN_LOST.has(err.ckr))) throw err;
        this.log('warn', `token ${this.label}: context-specific login answered ${err.ckr}; logging in again`);
        this.login = 'deferred';
        await this.recover();
        if (this.login === 'deferred') await this.logInTelling(contextPin, false);
        const again = key.pair;
        if (!again?.privateKey) throw new Error(`key ${key.label || key.id.toString('hex')} is no longer on token ${this.label}`);
        return await this.pool.use((s, alone) => signForSsh(s, again, data, flags, { contextPin, alone }));
      }
    } catch (err) {
      if (err instanceof TokenError && err.ckr === 'CKR_PIN_INCORRECT') {
        // The rejected PIN is forgotten. A kept PIN that differs from it proved itself at
        // login and stays: a PIV card drops its login after a failed VERIFY, and the
        // token's other keys must keep signing after the re-login (vcard measurement).
        if (contextPin && this.pin?.equals(contextPin)) this.forgetPin();
        this.pins?.tell(this.ref(), 'rejected');
        const after = await this.gate.run(() => this.token.refreshInfo()).catch(() => this.token.info);
        throw new PinError('C_Login', err.code, this.label, `PIN incorrect for key ${key.label || key.id.toString('hex')} of token ${this.label} (${triesLeftText(after)}); not retried`, 'Sign again and type the right PIN; each wrong PIN counts down the retry counter.', { cause: err });
      }
      if (err instanceof TokenError && err.ckr === 'CKR_PIN_LOCKED') throw this.lockedError();
      throw err;
    } finally {
      contextPin?.fill(0);
    }
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
    await this.forgetHandles();
    const scan = await this.gate.run(() => this.module.rescan());
    const again = scan.tokens.find((t) => t.serial === this.serial && t.label === this.label);
    if (!again) {
      this.markAbsent();
      throw new TokenAbsentError(this.label);
    }
    this.token = again;
    this.pool = new SessionPool(again, this.gate);
    this.markPresent();
    this.login = 'deferred';
    const kept = again.info.loginRequired ? this.keptPin() : null;
    if (kept && again.info.userPinFinalTry) {
      this.log('warn', `token ${this.label} reports its final PIN try: the kept PIN is not risked on it; it is forgotten and the next signature asks`);
      this.forgetPin();
    } else if (kept || !again.info.loginRequired) {
      await this.logInTelling(kept, true);
    }
    // Deferred: the next signature asks the agent for the PIN (its cache answers at once).
    await this.findKeysAgain();
  }

  private async forgetHandles(): Promise<void> {
    const old = this.pool;
    this.pool = new SessionPool(this.token, this.gate);
    await old.drop().catch(() => undefined);
    for (const k of this.keys) k.pair = undefined;
  }

  private async findKeysAgain(): Promise<void> {
    const pairs = await this.findKeyPairs();
    for (const k of this.keys) {
      const candidates = pairs.filter((p) => p.publicKey && samePublicKey(p.publicKey, k.publicKey));
      const withPrivate = candidates.filter((p) => p.privateKey);
      k.pair = withPrivate.find((p) => p.id.equals(k.id)) ?? withPrivate[0] ?? candidates.find((p) => p.id.equals(k.id));
    }
  }

  private markAbsent(): void {
    if (this.present) {
      this.log('warn', `token ${this.label} is not present; its keys stay listed and fail until it is back`);
      this.absentSince = Date.now();
      this.pins?.tell(this.ref(), 'absent');
    }
    this.present = false;
    this.login = 'deferred';
  }

  private markPresent(): void {
    if (!this.present) {
      const away = Date.now() - this.absentSince;
      this.log('info', `token ${this.label} is back after ${(away / 1000).toFixed(1)} s`);
      this.pins?.tell(this.ref(), 'present');
    }
    this.present = true;
  }

  /** A slot scan from the presence watch: notice a removal, a long absence, a return. */
  async onScan(tokens: Token[]): Promise<void> {
    if (this.closed || this.recovering) return;
    const here = tokens.some((t) => t.serial === this.serial && t.label === this.label);
    if (!here && this.present) {
      this.generation++;
      await this.forgetHandles();
      this.markAbsent();
    }
    if (!here && this.pin && Date.now() - this.absentSince >= this.policy.absentForgetMs) {
      this.log('info', `token ${this.label} was absent for more than ${Math.round(this.policy.absentForgetMs / 1000)} s: its PIN is forgotten`);
      this.forgetPin();
    }
    if (here && !this.present) {
      // Back: log in again and find the keys now, so the next signature does not wait for it.
      await this.recover().catch((err) => {
        this.noteError(err);
        this.log('warn', `token ${this.label} is back but could not be used again yet: ${(err as Error).message}`);
      });
    }
  }

  async logOut(): Promise<void> {
    this.forgetPin();
    if (this.login !== 'logged-in') return;
    await this.pool.use((s) => s.logout()).catch((err) => this.noteError(err));
    this.login = 'deferred';
  }

  async close(): Promise<void> {
    this.closed = true;
    unwatch(this.module, this);
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
      keyList: this.keys.map((k) => ({
        fingerprint: fingerprintSha256(k.blob),
        id: k.id.toString('hex'),
        label: k.label,
        problems: k.pair?.problems ?? [],
      })),
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

  get isAbsent(): boolean {
    return !this.present;
  }

  private forgetPin(): void {
    this.pin?.fill(0);
    this.pin = null;
  }
}

// One presence watch per module: a slot scan serves every token of the module.
interface Watch {
  tokens: Set<HostToken>;
  timer?: NodeJS.Timeout;
  busy: boolean;
}
const watches = new WeakMap<Pkcs11Module, Watch>();

function watch(module: Pkcs11Module, gate: ModuleGate, token: HostToken): void {
  let w = watches.get(module);
  if (!w) {
    w = { tokens: new Set(), busy: false };
    watches.set(module, w);
  }
  w.tokens.add(token);
  const schedule = (entry: Watch) => {
    const anyAbsent = [...entry.tokens].some((t) => t.isAbsent);
    entry.timer = setTimeout(() => void tick(entry), anyAbsent ? ABSENT_POLL_MS : PRESENT_POLL_MS);
    // The host lives as long as its channel to the agent; the watch must not keep it alive.
    entry.timer.unref();
  };
  const tick = async (entry: Watch) => {
    entry.timer = undefined;
    if (entry.tokens.size === 0) return;
    try {
      const scan = await gate.run(() => module.rescan());
      for (const t of entry.tokens) await t.onScan(scan.tokens);
    } catch {
      // A module closing, or a reader vanishing mid-scan: the next tick looks again.
    }
    if (entry.tokens.size > 0) schedule(entry);
  };
  if (!w.timer) schedule(w);
}

function unwatch(module: Pkcs11Module, token: HostToken): void {
  const w = watches.get(module);
  if (!w) return;
  w.tokens.delete(token);
  if (w.tokens.size === 0 && w.timer) {
    clearTimeout(w.timer);
    w.timer = undefined;
  }
}

/** CK_SLOT_ID as a number (the binding hands it out as a native-endian CK_ULONG buffer). */
function slotNumber(t: Token): number {
  const b = t.slot.slotId;
  return b.length === 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
}

const CKR_USER_ALREADY_LOGGED_IN = 0x100;

/** Constant-time PIN comparison (different lengths differ at once: the length is no secret here). */
function samePin(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
