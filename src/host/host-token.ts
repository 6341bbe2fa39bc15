// One token as the module host keeps it: its sessions, its login, its keys with their object
// handles. It keeps no PIN: the agent's broker is the only holder, and the token asks it
// (through the channel, pin-request.ts) whenever a login needs one. The jobs around it:
//   token-login.ts     login on demand, and what the broker hears of a PIN's fate
//   context-login.ts   CKA_ALWAYS_AUTHENTICATE signatures
//   token-reconnect.ts the way back after the token was pulled or reset
//   presence-watch.ts  the module-wide slot scan that notices removals
//   token-status.ts    what `tt-agent status` shows
import { findKeyPairs, type KeyPair } from '../pkcs11/discover';
import { TokenError } from '../pkcs11/errors';
import { loginToken, type LoginOutcome } from '../pkcs11/login';
import type { Pkcs11Module } from '../pkcs11/module';
import { SessionPool, type ModuleGate } from '../pkcs11/session-pool';
import { signForSsh } from '../pkcs11/sign';
import type { Token } from '../pkcs11/token';
import type { TokenRef } from '../pin/token-ref';
import type { PublicKey } from '../protocol/public-key';
import { signWithContextLogin } from './context-login';
import type { TokenStatus } from './messages';
import type { PinSource } from './pin-request';
import { RECOVERABLE, TokenAbsentError } from './token-errors';
import { loginOnDemand } from './token-login';
import { TokenReconnect } from './token-reconnect';
import { tokenStatus } from './token-status';

/** A key the host has handed to the agent. `pair` is refreshed whenever handles may be stale. */
export interface HostKey {
  blob: Buffer;
  publicKey: PublicKey;
  id: Buffer;
  label: string;
  pair?: KeyPair;
}

export type Log = (level: 'info' | 'warn' | 'error', message: string) => void;

/** How a load's PIN fared on this token. */
export interface LoginResult {
  outcome: LoginOutcome;
  /** Logged in before this call: C_Login was not run, so the PIN given was not checked. */
  alreadyLoggedIn: boolean;
}

export class HostToken {
  readonly keys: HostKey[] = [];
  pool: SessionPool;
  present = true;
  login: LoginOutcome = 'deferred';
  lastError?: { ckr?: string; message: string; at: string };
  /** Bumped by each recovery, so signatures that failed on old sessions do not recover twice. */
  generation = 0;
  closed = false;
  loggingIn?: Promise<void>;
  readonly reconnect: TokenReconnect;

  constructor(
    public token: Token,
    readonly module: Pkcs11Module,
    readonly gate: ModuleGate,
    readonly log: Log,
    readonly pins?: PinSource,
  ) {
    this.pool = new SessionPool(token, gate);
    this.reconnect = new TokenReconnect(this);
  }

  get label(): string {
    return this.token.label;
  }

  get serial(): string {
    return this.token.serial;
  }

  get isAbsent(): boolean {
    return !this.present;
  }

  ref(): TokenRef {
    const i = this.token.info;
    return { label: i.label, serial: i.serial, manufacturer: i.manufacturer, model: i.model };
  }

  /**
   * Logs in with `pin` (the caller zeroes it). A token already logged in is not asked again:
   * PKCS#11 shares the login across the module, so C_Login would answer
   * CKR_USER_ALREADY_LOGGED_IN to any PIN; the agent compares the PIN with the one it keeps.
   * A load without a PIN (one run again for a key the host has not got) leaves the login as it is.
   */
  async logIn(pin: Buffer | null): Promise<LoginResult> {
    if (this.login === 'logged-in' && pin && pin.length > 0) return { outcome: this.login, alreadyLoggedIn: true };
    if (this.login === 'logged-in' && pin === null) return { outcome: this.login, alreadyLoggedIn: false };
    try {
      this.login = await loginToken(this.pool, pin);
    } catch (err) {
      this.noteError(err);
      throw err;
    }
    return { outcome: this.login, alreadyLoggedIn: false };
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
    if (this.login === 'deferred' && this.token.info.loginRequired) await loginOnDemand(this, key);
    const pair = privatePair(this, key);
    if (pair.alwaysAuthenticate) return signWithContextLogin(this, key, data, flags);
    return this.pool.use((s, alone) => signForSsh(s, pair, data, flags, { alone }));
  }

  /** One recovery at a time; everyone who failed meanwhile waits for the same one. */
  recover(): Promise<void> {
    return this.reconnect.recover();
  }

  /** A slot scan from the presence watch: notice a removal, a return. */
  onScan(tokens: Token[]): Promise<void> {
    return this.reconnect.onScan(tokens);
  }

  async logOut(): Promise<void> {
    if (this.login !== 'logged-in') return;
    await this.pool.use((s) => s.logout()).catch((err) => this.noteError(err));
    this.login = 'deferred';
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.drop().catch(() => undefined);
  }

  status(): TokenStatus {
    return tokenStatus(this);
  }

  noteError(err: unknown): void {
    const e = err as { ckr?: unknown; message?: unknown };
    this.lastError = {
      ckr: typeof e?.ckr === 'string' ? e.ckr : undefined,
      message: typeof e?.message === 'string' ? e.message : String(err),
      at: new Date().toISOString(),
    };
  }
}

/** The key's pair with a private-key handle, or the error that says it is gone. */
export function privatePair(t: HostToken, key: HostKey): KeyPair {
  const pair = key.pair;
  if (!pair?.privateKey) throw new Error(`key ${key.label || key.id.toString('hex')} is no longer on token ${t.label}`);
  return pair;
}
