// The one holder of PINs in the agent. A token that needs a login gets its PIN here. Order:
// the in-memory cache (within its lifetime) → the OS keyring (only tokens the user asked to
// remember have an entry) → a prompt: SSH_ASKPASS, else pinentry, else a `tt-agent unlock`
// from the user's terminal, waited for a while. Safety rules:
//  - a module host gets a PIN only for a token it claimed (it reported it in a load) and no
//    other module claimed first: a module never learns another module's PIN;
//  - a rejected PIN is never retried by the broker: reject() forgets it everywhere;
//  - when the token reports its final try, no cached or remembered PIN is submitted;
//  - while the agent is locked the PINs are sealed (pin-cache.ts) and none is handed out;
//  - PINs are Buffers, zeroed when dropped, and never logged.
import type { AskpassOptions } from './askpass';
import type { KeyringStore } from './keyring';
import { PinCache } from './pin-cache';
import { isFinal, promptForPin, shellWord } from './pin-prompt';
import type { PinentryOptions } from './pinentry';
import { FINAL_TRY_WARNING, lockedMessage, type PinRequestReason } from './prompt-text';
import { describeToken, parseTokenSelector, tokenKey, tokenMatches, type TokenRef } from './token-ref';
import { UnlockWaits } from './unlock-waits';

export type { TokenRef } from './token-ref';
export type { PinRequestReason } from './prompt-text';

export interface PinBrokerOptions {
  askpass?: AskpassOptions;
  /** false: never run pinentry. */
  pinentry?: PinentryOptions | false;
  keyring?: KeyringStore | null;
  /** How long a PIN stays cached after it was given. Default: until lock, forget or absence. */
  cacheLifetimeMs?: number;
  /** A token out of its reader longer than this has its cached PIN forgotten. Default 5 min. */
  absentForgetMs?: number;
  /** How long a prompt-less request waits for `tt-agent unlock`. Default 60 s; 0 disables. */
  unlockWaitMs?: number;
  /** Whether a CKU_CONTEXT_SPECIFIC login may use the cache/keyring. Default true; false prompts every time. */
  contextSpecificFromCache?: boolean;
  log?: (line: string) => void;
  now?: () => number;
}

/** Where the last PIN handed out for a token came from, so a rejection forgets the right one. */
interface Handout {
  fromCache: boolean;
  /** A prompted PIN that the cache then kept. */
  cachedNow: boolean;
}

export class PinBroker {
  private readonly log: (line: string) => void;
  private readonly keyring: KeyringStore | null;
  private readonly absentForgetMs: number;
  private readonly unlockWaitMs: number;
  private readonly cache: PinCache;
  private readonly known = new Map<string, TokenRef>();
  /** token key → the module host (its module path) that serves it. */
  private readonly claims = new Map<string, string>();
  private readonly handouts = new Map<string, Handout>();
  private readonly absentSince = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waits: UnlockWaits;
  private readonly prompts = new Map<string, Promise<Buffer | null>>();

  constructor(private readonly opts: PinBrokerOptions = {}) {
    this.log = opts.log ?? (() => {});
    this.keyring = opts.keyring ?? null;
    this.absentForgetMs = opts.absentForgetMs ?? 5 * 60_000;
    this.unlockWaitMs = opts.unlockWaitMs ?? 60_000;
    this.cache = new PinCache(opts.cacheLifetimeMs ?? Infinity, opts.now ?? Date.now);
    this.waits = new UnlockWaits(this.unlockWaitMs, this.log);
  }

  private note(token: TokenRef): string {
    const key = tokenKey(token);
    this.known.set(key, token);
    return key;
  }

  /**
   * Records that module host `owner` serves `token`. False when another module claimed it
   * first: that module's PIN is not this one's to ask for.
   */
  claim(owner: string, token: TokenRef): boolean {
    const key = this.note(token);
    const holder = this.claims.get(key);
    if (holder !== undefined && holder !== owner) {
      this.log(`module ${owner} reports token ${describeToken(token)}, which ${holder} serves: it will get no PIN for it`);
      return false;
    }
    this.claims.set(key, owner);
    return true;
  }

  /** Whether `owner` may have the PIN of `token`. */
  serves(owner: string, token: TokenRef): boolean {
    return this.claims.get(tokenKey(token)) === owner;
  }

  /** A module was removed: its tokens are nobody's, and their cached PINs are forgotten. */
  release(owner: string): void {
    for (const [key, holder] of [...this.claims]) {
      if (holder !== owner) continue;
      this.claims.delete(key);
      this.cache.drop(key);
    }
  }

  /** A PIN the token accepted at `tt-agent add` (a copy is kept; the caller zeroes its own). */
  keep(owner: string, token: TokenRef, pin: Buffer): boolean {
    const key = this.note(token);
    if (this.claims.get(key) !== owner) return false;
    return this.cache.put(key, Buffer.from(pin), 'add');
  }

  /** Whether `pin` is the PIN kept for `token` (a second add must not loosen anything with another PIN). */
  holds(token: TokenRef, pin: Buffer): boolean {
    return this.cache.holds(tokenKey(token), pin);
  }

  /** Whether a PIN is kept for `token`. */
  has(token: TokenRef): boolean {
    return this.cache.has(tokenKey(token));
  }

  /**
   * A PIN for `token` (a fresh Buffer the caller zeroes after C_Login), or null: nobody gave
   * one, the agent is locked, or `asker` (a module host) does not serve that token.
   */
  async getPin(token: TokenRef, why: PinRequestReason = {}, asker?: string): Promise<Buffer | null> {
    const key = this.note(token);
    if (asker !== undefined && this.claims.get(key) !== asker) {
      this.log(`refused: module ${asker} asked for the PIN of token ${describeToken(token)}, which it does not serve`);
      return null;
    }
    if (this.cache.sealed) {
      this.log(`no PIN for token ${describeToken(token)}: the agent is locked`);
      return null;
    }
    this.dropIfLongAbsent(key);
    const final = isFinal(why);
    const cacheAllowed = !final && (!why.contextSpecific || this.opts.contextSpecificFromCache !== false);
    if (final) this.log(`token ${describeToken(token)} reports its final PIN try: asking, never using a cached or remembered PIN`);
    if (cacheAllowed) {
      const hit = this.cache.get(key);
      if (hit) {
        this.handouts.set(key, { fromCache: true, cachedNow: false });
        return hit.pin;
      }
      if (this.keyring) {
        const stored = await this.keyring.get(token);
        if (stored) {
          this.log(`using the remembered PIN of token ${describeToken(token)} from the OS keyring`);
          this.cache.put(key, Buffer.from(stored), 'keyring');
          this.handouts.set(key, { fromCache: true, cachedNow: false });
          return stored;
        }
      }
    }
    // One prompt per token at a time: concurrent signatures share it.
    const promptKey = `${key}\0${final ? 'final' : 'normal'}`;
    let shared = this.prompts.get(promptKey);
    if (!shared) {
      shared = this.ask(token, why).then((pin) => {
        this.prompts.delete(promptKey);
        // Kept only for the callers awaiting it (they copy it in their microtasks).
        if (pin) setImmediate(() => pin.fill(0));
        return pin;
      });
      this.prompts.set(promptKey, shared);
    }
    const pin = await shared;
    if (!pin) return null;
    const cachedNow = (!this.cache.has(key) || final) && this.cache.put(key, Buffer.from(pin), 'prompt');
    this.handouts.set(key, { fromCache: false, cachedNow });
    return Buffer.from(pin);
  }

  private async ask(token: TokenRef, why: PinRequestReason): Promise<Buffer | null> {
    const got = await promptForPin(token, why, { askpass: this.opts.askpass, pinentry: this.opts.pinentry, log: this.log });
    if (got === null || Buffer.isBuffer(got)) return got;
    if (this.unlockWaitMs <= 0) {
      this.log(`no way to ask for the PIN of token ${describeToken(token)} (${got.skipped.join('; ')})`);
      return null;
    }
    this.log(
      `token ${describeToken(token)} needs its PIN${isFinal(why) ? ` (${FINAL_TRY_WARNING})` : ''}: ` +
        `run 'tt-agent unlock ${shellWord(token.label.trim() || token.serial.trim())}' within ${Math.round(this.unlockWaitMs / 1000)} s (${got.skipped.join('; ')})`,
    );
    return this.waits.wait(token);
  }

  private dropIfLongAbsent(key: string): void {
    const since = this.absentSince.get(key);
    if (since && (this.opts.now ?? Date.now)() - since.at >= this.absentForgetMs && this.cache.drop(key)) {
      this.log(`token ${describeToken(this.known.get(key)!)} was absent for more than ${Math.round(this.absentForgetMs / 1000)} s: its cached PIN is forgotten`);
    }
  }

  private async forgetRemembered(token: TokenRef): Promise<void> {
    if (!this.keyring) return;
    try {
      if (await this.keyring.delete(token)) this.log(`removed the remembered PIN of token ${describeToken(token)} from the OS keyring`);
    } catch (err) {
      this.log(`${(err as Error).message}; remove it by hand (secret-tool clear service tt-agent)`);
    }
  }

  /** A PIN from `tt-agent unlock`. Takes ownership of `pin` (it is zeroed when dropped). */
  async supply(token: TokenRef, pin: Buffer, supplyOpts: { remember?: boolean } = {}): Promise<{ remembered: boolean; error?: string }> {
    const key = this.note(token);
    if (this.cache.sealed) {
      pin.fill(0);
      return { remembered: false, error: 'the agent is locked' };
    }
    const waited = this.waits.answer(token, pin);
    this.log(`PIN for token ${describeToken(token)} received from tt-agent unlock${waited ? '' : ' (kept for the next login)'}`);
    const result: { remembered: boolean; error?: string } = { remembered: false };
    if (supplyOpts.remember) {
      try {
        if (await this.remember(token, pin)) result.remembered = true;
        else result.error = 'no OS keyring available';
      } catch (err) {
        result.error = (err as Error).message;
      }
    }
    this.cache.put(key, pin, 'unlock');
    return result;
  }

  /** CKR_PIN_INCORRECT: forgets the PIN that was handed out, cached and remembered. Never retries. */
  async reject(token: TokenRef): Promise<void> {
    const key = this.note(token);
    const h = this.handouts.get(key);
    this.handouts.delete(key);
    if (h && !h.fromCache && !h.cachedNow) {
      // A typed PIN was wrong; the kept one proved itself at login and stays.
      this.log(`token ${describeToken(token)} rejected the PIN just typed (CKR_PIN_INCORRECT); the kept PIN stays, not retrying`);
      return;
    }
    this.cache.drop(key);
    this.log(`token ${describeToken(token)} rejected the PIN (CKR_PIN_INCORRECT): cached and remembered PIN forgotten, not retrying`);
    await this.forgetRemembered(token);
  }

  /** CKR_PIN_LOCKED: forgets the PIN and returns what to tell the user (token, how to unblock). */
  async locked(token: TokenRef): Promise<string> {
    const key = this.note(token);
    this.cache.drop(key);
    await this.forgetRemembered(token);
    const { message, hint } = lockedMessage(token);
    this.log(`${message}. ${hint}`);
    return `${message}. ${hint}`;
  }

  /** Drops every cached PIN (sealed ones too) and cancels waits for `tt-agent unlock`. */
  forgetAll(): void {
    const n = this.cache.dropAll();
    this.waits.cancelAll();
    if (n > 0) this.log(`forgot ${n} cached PIN${n === 1 ? '' : 's'}`);
  }

  /**
   * The agent is being locked: every kept PIN is encrypted under `key` (32 bytes, derived
   * from the lock passphrase), waits for `tt-agent unlock` end, and no PIN is handed out
   * until unseal(). False when already sealed.
   */
  seal(key: Buffer): boolean {
    if (!this.cache.seal(key)) return false;
    this.waits.cancelAll();
    if (this.cache.size > 0) this.log(`sealed ${this.cache.size} cached PIN${this.cache.size === 1 ? '' : 's'} while the agent is locked`);
    return true;
  }

  /** Restores the sealed PINs. A wrong key: false, and nothing is lost. */
  unseal(key: Buffer): boolean {
    return this.cache.unseal(key);
  }

  get sealed(): boolean {
    return this.cache.sealed;
  }

  tokenAbsent(token: TokenRef): void {
    const key = this.note(token);
    if (this.absentSince.has(key)) return;
    const timer = setTimeout(() => this.dropIfLongAbsent(key), this.absentForgetMs);
    timer.unref();
    this.absentSince.set(key, { at: (this.opts.now ?? Date.now)(), timer });
  }

  tokenPresent(token: TokenRef): void {
    const key = this.note(token);
    this.dropIfLongAbsent(key);
    const since = this.absentSince.get(key);
    if (since) clearTimeout(since.timer);
    this.absentSince.delete(key);
  }

  /** Stores the PIN in the OS keyring (copy; the caller keeps its Buffer). False: no keyring. */
  async remember(token: TokenRef, pin: Buffer): Promise<boolean> {
    this.note(token);
    if (!this.keyring) {
      this.log(`cannot remember the PIN of token ${describeToken(token)}: no OS keyring available`);
      return false;
    }
    await this.keyring.set(token, pin);
    this.log(`remembered the PIN of token ${describeToken(token)} in the OS keyring`);
    return true;
  }

  /** Forgets the cached and the remembered PIN of one token. */
  async forget(token: TokenRef): Promise<void> {
    const key = this.note(token);
    if (this.cache.drop(key)) this.log(`forgot the cached PIN of token ${describeToken(token)}`);
    await this.forgetRemembered(token);
  }

  /**
   * Forgets the PINs of every token the selector names (empty: all), cached and, with
   * `keyring`, remembered (also tokens only the keyring knows). Returns the tokens forgotten.
   */
  async forgetSelected(selector: string, opts: { keyring: boolean }): Promise<TokenRef[]> {
    const sel = parseTokenSelector(selector);
    const chosen = new Map<string, TokenRef>();
    for (const t of this.known.values()) if (tokenMatches(sel, t)) chosen.set(tokenKey(t), t);
    if (opts.keyring && this.keyring) {
      try {
        for (const t of await this.keyring.list()) if (tokenMatches(sel, t)) chosen.set(tokenKey(t), t);
      } catch (err) {
        this.log((err as Error).message);
      }
    }
    for (const [key, t] of chosen) {
      if (this.cache.drop(key)) this.log(`forgot the cached PIN of token ${describeToken(t)}`);
      if (opts.keyring) await this.forgetRemembered(t);
    }
    return [...chosen.values()];
  }

  /** The token a `tt-agent unlock` selector names: waiting ones first, then known ones. */
  findToken(selector: string): TokenRef | null {
    const sel = parseTokenSelector(selector);
    const inWaiting = this.waiting().find((t) => tokenMatches(sel, t));
    if (inWaiting) return inWaiting;
    const all = [...this.known.values()].filter((t) => tokenMatches(sel, t));
    // An empty selector is only unambiguous with one token.
    if (sel === null) return all.length === 1 ? all[0] : null;
    return all[0] ?? null;
  }

  /** Tokens waiting for `tt-agent unlock` now. */
  waiting(): TokenRef[] {
    return this.waits.tokens();
  }

  /** For status@tt-agent: which tokens have a cached PIN (never the PIN). */
  status(): { token: TokenRef; cached: boolean; waiting: boolean; absent: boolean }[] {
    return [...this.known.entries()].map(([key, token]) => ({
      token,
      cached: this.cache.has(key),
      waiting: this.waits.isWaiting(token),
      absent: this.absentSince.has(key),
    }));
  }

  close(): void {
    this.forgetAll();
    for (const a of this.absentSince.values()) clearTimeout(a.timer);
    this.absentSince.clear();
  }
}
