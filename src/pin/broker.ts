// The one holder of PINs in the agent. A token that needs a login gets its PIN here. Order:
// the in-memory cache (within its lifetime) → the OS keyring (only tokens the user asked to
// remember have an entry) → a prompt: SSH_ASKPASS, else pinentry, else a `tt-agent unlock`
// from the user's terminal, waited for a while. Safety rules:
//  - a module host gets a PIN only for a token it alone reported: never another module's PIN;
//  - a rejected PIN is never retried (reject() forgets it everywhere), and none cached or
//    remembered is submitted at the token's final try; while locked all are sealed (pin-cache.ts);
//  - PINs are Buffers, zeroed when dropped, and never logged.
import { handoutKey, type ForgetResult, type Handout, type PinBrokerOptions } from './broker-options';
import { PinCache } from './pin-cache';
import { RememberedPins } from './remembered-pins';
import { isFinal, promptForPin } from './pin-prompt';
import { lockedMessage, type PinRequestReason } from './prompt-text';
import { describeToken, parseTokenSelector, tokenKey, tokenMatches, type TokenRef } from './token-ref';
import { UnlockWaits } from './unlock-waits';
import { AbsenceClock } from './absence-clock';
import { TokenClaims } from './token-claims';
export type { TokenRef } from './token-ref';
export type { PinRequestReason } from './prompt-text';
export type { ForgetResult, PinBrokerOptions } from './broker-options';
export class PinBroker {
  private readonly log: (line: string) => void;
  private readonly remembered: RememberedPins;
  private readonly cache: PinCache;
  private readonly known = new Map<string, TokenRef>();
  private readonly claims = new TokenClaims();
  private readonly handouts = new Map<string, Handout>();
  private readonly absence: AbsenceClock;
  private readonly waits: UnlockWaits;
  private readonly prompts = new Map<string, Promise<Buffer | null>>();
  private readonly absentListeners = new Set<(token: TokenRef) => void>();

  constructor(private readonly opts: PinBrokerOptions = {}) {
    this.log = opts.log ?? (() => {});
    this.remembered = new RememberedPins(opts.keyring ?? null, this.log);
    this.cache = new PinCache(opts.cacheLifetimeMs ?? Infinity, opts.now ?? Date.now);
    this.waits = new UnlockWaits(opts.unlockWaitMs ?? 60_000, this.log);
    const absentForgetMs = opts.absentForgetMs ?? 5 * 60_000;
    this.absence = new AbsenceClock(absentForgetMs, opts.now ?? Date.now, (key) => {
      if (this.cache.drop(key)) this.log(`token ${describeToken(this.known.get(key)!)} was absent for more than ${Math.round(absentForgetMs / 1000)} s: its cached PIN is forgotten`);
    });
  }

  private note(token: TokenRef): string {
    const key = tokenKey(token);
    this.known.set(key, token);
    return key;
  }

  /**
   * Records that module host `owner` serves `token`. False when another module reports the
   * same token: it is then contested, and no module gets its PIN.
   */
  claim(owner: string, token: TokenRef): boolean {
    const others = this.claims.claim(owner, this.note(token));
    if (others.length > 0) this.log(`modules ${[owner, ...others].join(', ')} all report token ${describeToken(token)}: none of them gets its PIN`);
    return others.length === 0;
  }

  /** Whether `owner` may have the PIN of `token`. */
  serves(owner: string, token: TokenRef): boolean {
    return this.claims.serves(owner, tokenKey(token));
  }

  /** A module was removed: its claims end, and the cached PINs of all its tokens are forgotten. */
  release(owner: string): void {
    for (const key of this.claims.release(owner)) this.cache.drop(key);
  }

  /** A PIN the token accepted at `tt-agent add` (a copy is kept; the caller zeroes its own). */
  keep(owner: string, token: TokenRef, pin: Buffer): boolean {
    const key = this.note(token);
    if (!this.claims.serves(owner, key)) return false;
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
    if (asker !== undefined && !this.claims.serves(asker, key)) {
      this.log(`refused: module ${asker} asked for the PIN of token ${describeToken(token)}, which it does not serve`);
      return null;
    }
    if (this.cache.sealed) {
      this.log(`no PIN for token ${describeToken(token)}: the agent is locked`);
      return null;
    }
    this.absence.check(key);
    const final = isFinal(why);
    const cacheAllowed = !final && (!why.contextSpecific || this.opts.contextSpecificFromCache !== false);
    if (final) this.log(`token ${describeToken(token)} reports its final PIN try: asking, never using a cached or remembered PIN`);
    if (cacheAllowed) {
      const hit = this.cache.get(key);
      if (hit) {
        this.handouts.set(handoutKey(key, why), { fromCache: true, cachedNow: false });
        return hit.pin;
      }
      const stored = await this.remembered.get(token);
      if (stored) {
        this.cache.put(key, Buffer.from(stored), 'keyring');
        this.handouts.set(handoutKey(key, why), { fromCache: true, cachedNow: false });
        return stored;
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
    this.handouts.set(handoutKey(key, why), { fromCache: false, cachedNow });
    return Buffer.from(pin);
  }

  private async ask(token: TokenRef, why: PinRequestReason): Promise<Buffer | null> {
    const got = await promptForPin(token, why, { askpass: this.opts.askpass, pinentry: this.opts.pinentry, log: this.log });
    return got === null || Buffer.isBuffer(got) ? got : this.waits.waitOrGiveUp(token, why, got.skipped);
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

  /** CKR_PIN_INCORRECT: forgets the PIN handed out (cached and remembered); never retries. */
  async reject(token: TokenRef, which: { contextSpecific?: boolean } = {}): Promise<void> {
    const key = this.note(token);
    const h = this.handouts.get(handoutKey(key, which));
    this.handouts.delete(handoutKey(key, which));
    if (!h || (!h.fromCache && !h.cachedNow)) {
      // A typed PIN was wrong, or no PIN of ours (a second report of one failure): the kept
      // one proved itself at login and stays.
      this.log(`token ${describeToken(token)} rejected the PIN just typed (CKR_PIN_INCORRECT); the kept PIN stays, not retrying`);
      return;
    }
    this.cache.drop(key);
    this.log(`token ${describeToken(token)} rejected the PIN (CKR_PIN_INCORRECT): cached and remembered PIN forgotten, not retrying`);
    await this.remembered.delete(token);
  }

  /** CKR_PIN_LOCKED: forgets the PIN and returns what to tell the user (token, how to unblock). */
  async locked(token: TokenRef): Promise<string> {
    const key = this.note(token);
    this.cache.drop(key);
    await this.remembered.delete(token);
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
    this.absence.absent(this.note(token));
    for (const l of this.absentListeners) l(token);
  }

  /** Calls `listener` whenever a module host reports a token pulled; returns the unsubscribe. */
  onTokenAbsent(listener: (token: TokenRef) => void): () => void {
    this.absentListeners.add(listener);
    return () => void this.absentListeners.delete(listener);
  }

  tokenPresent(token: TokenRef): void {
    this.absence.present(this.note(token));
  }

  /** Stores the PIN in the OS keyring (copy; the caller keeps its Buffer). False: no keyring. */
  async remember(token: TokenRef, pin: Buffer): Promise<boolean> {
    this.note(token);
    return this.remembered.set(token, pin);
  }

  /** Forgets the cached and the remembered PIN of one token. */
  async forget(token: TokenRef): Promise<void> {
    const key = this.note(token);
    if (this.cache.drop(key)) this.log(`forgot the cached PIN of token ${describeToken(token)}`);
    await this.remembered.delete(token);
  }

  /**
   * Forgets the PINs of every token the selector names (empty: all), cached and, with
   * `keyring`, remembered (also tokens only the keyring knows). Returns the tokens forgotten.
   */
  /**
   * Forgets the PINs of every token the selector names (empty: all), cached and, with
   * `keyring`, remembered (also tokens only the keyring knows). Returns the tokens matched and
   * what was dropped for each: a PIN held in memory, one remembered in the keyring.
   */
  async forgetSelected(selector: string, opts: { keyring: boolean }): Promise<ForgetResult[]> {
    const sel = parseTokenSelector(selector);
    const chosen = new Map<string, TokenRef>();
    for (const t of this.known.values()) if (tokenMatches(sel, t)) chosen.set(tokenKey(t), t);
    if (opts.keyring) for (const t of await this.remembered.list()) if (tokenMatches(sel, t)) chosen.set(tokenKey(t), t);
    const results: ForgetResult[] = [];
    for (const [key, t] of chosen) {
      const held = this.cache.drop(key);
      if (held) this.log(`forgot the cached PIN of token ${describeToken(t)}`);
      const remembered = opts.keyring ? await this.remembered.delete(t) : false;
      results.push({ token: t, held, remembered });
    }
    return results;
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
      absent: this.absence.has(key),
    }));
  }

  close(): void {
    this.forgetAll();
    this.absence.close();
  }
}
