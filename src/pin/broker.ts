// The one place the agent gets a PIN from when a token needs a login. Order: the in-memory
// cache (within its lifetime) → the OS keyring (only tokens the user asked to remember have
// an entry) → a prompt: SSH_ASKPASS, else pinentry, else a `tt-agent unlock` from the user's
// terminal, waited for a while. Safety rules (issue: PIN safety):
//  - a rejected PIN is never retried by the broker: reject() forgets it everywhere;
//  - when the token reports its final try, no cached or remembered PIN is submitted;
//  - PINs are Buffers, zeroed when dropped, and never logged.
import { askpassPlan, runAskpass, type AskpassOptions, type AskResult } from './askpass';
import type { KeyringStore } from './keyring';
import { PinCache } from './pin-cache';
import { pinentryPlan, runPinentry, type PinentryOptions } from './pinentry';
import { FINAL_TRY_WARNING, lockedMessage, pinDescription, pinPrompt, type PinRequestReason } from './prompt-text';
import { describeToken, parseTokenSelector, tokenKey, tokenMatches, type TokenRef } from './token-ref';

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

export interface PinBroker {
  /** A PIN for `token` (a fresh Buffer the caller zeroes after C_Login), or null: nobody gave one. */
  getPin(token: TokenRef, why?: PinRequestReason): Promise<Buffer | null>;
  /** A PIN from `tt-agent unlock`. Takes ownership of `pin` (it is zeroed when dropped). */
  supply(token: TokenRef, pin: Buffer, opts?: { remember?: boolean }): Promise<{ remembered: boolean; error?: string }>;
  /** CKR_PIN_INCORRECT: forgets the cached and remembered PIN. Never retries. */
  reject(token: TokenRef): Promise<void>;
  /** CKR_PIN_LOCKED: forgets the PIN and returns what to tell the user (token, how to unblock). */
  locked(token: TokenRef): Promise<string>;
  /** ssh-add -x: drops every cached PIN and cancels waits for `tt-agent unlock`. */
  forgetAll(): void;
  tokenAbsent(token: TokenRef): void;
  tokenPresent(token: TokenRef): void;
  /** Stores the PIN in the OS keyring (copy; the caller keeps its Buffer). False: no keyring. */
  remember(token: TokenRef, pin: Buffer): Promise<boolean>;
  /** Forgets the cached and the remembered PIN of one token. */
  forget(token: TokenRef): Promise<void>;
  /**
   * Forgets the PINs of every token the selector names (empty: all), cached and, with
   * `keyring`, remembered (also tokens only the keyring knows). Returns the tokens matched and
   * what was dropped for each: a PIN held in memory, one remembered in the keyring.
   */
  forgetSelected(selector: string, opts: { keyring: boolean }): Promise<ForgetResult[]>;
  /** The token a `tt-agent unlock` selector names: waiting ones first, then known ones. */
  findToken(selector: string): TokenRef | null;
  /** Tokens waiting for `tt-agent unlock` now. */
  waiting(): TokenRef[];
  /** For status@tt-agent: which tokens have a cached PIN (never the PIN). */
  status(): { token: TokenRef; cached: boolean; waiting: boolean; absent: boolean }[];
  close(): void;
}

export interface ForgetResult {
  token: TokenRef;
  /** a PIN was held in the agent's memory */
  held: boolean;
  /** a PIN was removed from the OS keyring */
  remembered: boolean;
}

interface Waiter {
  token: TokenRef;
  resolve: (pin: Buffer | null) => void;
}

export function createPinBroker(opts: PinBrokerOptions = {}): PinBroker {
  const log = opts.log ?? (() => {});
  const now = opts.now ?? Date.now;
  const keyring = opts.keyring ?? null;
  const absentForgetMs = opts.absentForgetMs ?? 5 * 60_000;
  const unlockWaitMs = opts.unlockWaitMs ?? 60_000;
  const cache = new PinCache(opts.cacheLifetimeMs ?? Infinity, now);
  const known = new Map<string, TokenRef>();
  const absentSince = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  const waiters = new Map<string, Waiter[]>();
  const prompts = new Map<string, Promise<Buffer | null>>();

  const note = (token: TokenRef) => {
    known.set(tokenKey(token), token);
    return tokenKey(token);
  };

  const dropIfLongAbsent = (key: string) => {
    const since = absentSince.get(key);
    if (since && now() - since.at >= absentForgetMs && cache.drop(key)) {
      log(`token ${describeToken(known.get(key)!)} was absent for more than ${Math.round(absentForgetMs / 1000)} s: its cached PIN is forgotten`);
    }
  };

  const forgetRemembered = async (token: TokenRef): Promise<boolean> => {
    if (!keyring) return false;
    try {
      if (!(await keyring.delete(token))) return false;
      log(`removed the remembered PIN of token ${describeToken(token)} from the OS keyring`);
      return true;
    } catch (err) {
      log(`${(err as Error).message}; remove it by hand (secret-tool clear service tt-agent)`);
      return false;
    }
  };

  const waitForUnlock = (token: TokenRef, key: string): Promise<Buffer | null> =>
    new Promise((resolve) => {
      const list = waiters.get(key) ?? [];
      const waiter: Waiter = {
        token,
        resolve: (pin) => {
          clearTimeout(timer);
          const rest = (waiters.get(key) ?? []).filter((w) => w !== waiter);
          if (rest.length) waiters.set(key, rest);
          else waiters.delete(key);
          resolve(pin);
        },
      };
      const timer = setTimeout(() => {
        log(`no PIN for token ${describeToken(token)} within ${Math.round(unlockWaitMs / 1000)} s; the operation fails`);
        waiter.resolve(null);
      }, unlockWaitMs);
      list.push(waiter);
      waiters.set(key, list);
    });

  const ask = async (token: TokenRef, key: string, why: PinRequestReason): Promise<Buffer | null> => {
    const final = isFinal(why);
    const skipped: string[] = [];
    const outcome = (r: AskResult, via: string): Buffer | null | undefined => {
      if (r.kind === 'pin') {
        if (r.pin.length > 0) return r.pin;
        log(`empty PIN from ${via} for token ${describeToken(token)}: treated as cancelled`);
        return null;
      }
      if (r.kind === 'cancelled') {
        log(`PIN entry for token ${describeToken(token)} cancelled (${r.reason})`);
        return null;
      }
      skipped.push(r.reason);
      return undefined;
    };

    const ap = askpassPlan(opts.askpass);
    if ('program' in ap) {
      const got = outcome(await runAskpass(ap.program, pinPrompt(token, why), opts.askpass), 'SSH_ASKPASS');
      if (got !== undefined) return got;
    } else skipped.push(`SSH_ASKPASS: ${ap.skip}`);

    if (opts.pinentry !== false) {
      const pp = pinentryPlan(opts.pinentry || {});
      if ('program' in pp) {
        const texts = {
          title: 'tt-agent',
          description: pinDescription(token, why),
          prompt: 'PIN:',
          error: final ? FINAL_TRY_WARNING : undefined,
        };
        const got = outcome(await runPinentry(pp.program, texts, { ...(opts.pinentry || {}), ttyname: pp.ttyname }), 'pinentry');
        if (got !== undefined) return got;
      } else skipped.push(`pinentry: ${pp.skip}`);
    }

    if (unlockWaitMs <= 0) {
      log(`no way to ask for the PIN of token ${describeToken(token)} (${skipped.join('; ')})`);
      return null;
    }
    log(
      `token ${describeToken(token)} needs its PIN${final ? ` (${FINAL_TRY_WARNING})` : ''}: ` +
        `run 'tt-agent unlock ${shellWord(token.label.trim() || token.serial.trim())}' within ${Math.round(unlockWaitMs / 1000)} s (${skipped.join('; ')})`,
    );
    return waitForUnlock(token, key);
  };

  const broker: PinBroker = {
    async getPin(token, why = {}) {
      const key = note(token);
      dropIfLongAbsent(key);
      const final = isFinal(why);
      const cacheAllowed = !final && (!why.contextSpecific || opts.contextSpecificFromCache !== false);
      if (final) log(`token ${describeToken(token)} reports its final PIN try: asking, never using a cached or remembered PIN`);
      if (cacheAllowed) {
        const hit = cache.get(key);
        if (hit) return hit.pin;
        if (keyring) {
          const stored = await keyring.get(token);
          if (stored) {
            log(`using the remembered PIN of token ${describeToken(token)} from the OS keyring`);
            cache.put(key, Buffer.from(stored), 'keyring');
            return stored;
          }
        }
      }
      // One prompt per token at a time: concurrent signatures share it.
      const promptKey = `${key}\0${final ? 'final' : 'normal'}`;
      let shared = prompts.get(promptKey);
      if (!shared) {
        shared = ask(token, key, why).then((pin) => {
          prompts.delete(promptKey);
          // Kept only for the callers awaiting it (they copy it in their microtasks).
          if (pin) setImmediate(() => pin.fill(0));
          return pin;
        });
        prompts.set(promptKey, shared);
      }
      const pin = await shared;
      if (!pin) return null;
      if (!cache.has(key) || final) cache.put(key, Buffer.from(pin), 'prompt');
      return Buffer.from(pin);
    },

    async supply(token, pin, supplyOpts = {}) {
      const key = note(token);
      const list = [...(waiters.get(key) ?? [])];
      cache.put(key, pin, 'unlock');
      log(`PIN for token ${describeToken(token)} received from tt-agent unlock${list.length ? '' : ' (kept for the next login)'}`);
      for (const w of list) w.resolve(Buffer.from(pin));
      if (!supplyOpts.remember) return { remembered: false };
      try {
        const done = await broker.remember(token, pin);
        return done ? { remembered: true } : { remembered: false, error: 'no OS keyring available' };
      } catch (err) {
        return { remembered: false, error: (err as Error).message };
      }
    },

    async reject(token) {
      const key = note(token);
      cache.drop(key);
      log(`token ${describeToken(token)} rejected the PIN (CKR_PIN_INCORRECT): cached and remembered PIN forgotten, not retrying`);
      await forgetRemembered(token);
    },

    async locked(token) {
      const key = note(token);
      cache.drop(key);
      await forgetRemembered(token);
      const { message, hint } = lockedMessage(token);
      log(`${message}. ${hint}`);
      return `${message}. ${hint}`;
    },

    forgetAll() {
      const n = cache.dropAll();
      for (const list of [...waiters.values()]) for (const w of [...list]) w.resolve(null);
      if (n > 0) log(`forgot ${n} cached PIN${n === 1 ? '' : 's'}`);
    },

    tokenAbsent(token) {
      const key = note(token);
      if (absentSince.has(key)) return;
      const timer = setTimeout(() => dropIfLongAbsent(key), absentForgetMs);
      timer.unref();
      absentSince.set(key, { at: now(), timer });
    },

    tokenPresent(token) {
      const key = note(token);
      dropIfLongAbsent(key);
      const since = absentSince.get(key);
      if (since) clearTimeout(since.timer);
      absentSince.delete(key);
    },

    async remember(token, pin) {
      note(token);
      if (!keyring) {
        log(`cannot remember the PIN of token ${describeToken(token)}: no OS keyring available`);
        return false;
      }
      await keyring.set(token, pin);
      log(`remembered the PIN of token ${describeToken(token)} in the OS keyring`);
      return true;
    },

    async forget(token) {
      const key = note(token);
      if (cache.drop(key)) log(`forgot the cached PIN of token ${describeToken(token)}`);
      await forgetRemembered(token);
    },

    async forgetSelected(selector, { keyring: alsoKeyring }) {
      const sel = parseTokenSelector(selector);
      const chosen = new Map<string, TokenRef>();
      for (const t of known.values()) if (tokenMatches(sel, t)) chosen.set(tokenKey(t), t);
      if (alsoKeyring && keyring) {
        try {
          for (const t of await keyring.list()) if (tokenMatches(sel, t)) chosen.set(tokenKey(t), t);
        } catch (err) {
          log((err as Error).message);
        }
      }
      const results: ForgetResult[] = [];
      for (const [key, t] of chosen) {
        const held = cache.drop(key);
        if (held) log(`forgot the cached PIN of token ${describeToken(t)}`);
        const remembered = alsoKeyring ? await forgetRemembered(t) : false;
        results.push({ token: t, held, remembered });
      }
      return results;
    },

    findToken(selector) {
      const sel = parseTokenSelector(selector);
      const waitingTokens = broker.waiting();
      const inWaiting = waitingTokens.find((t) => tokenMatches(sel, t));
      if (inWaiting) return inWaiting;
      const all = [...known.values()].filter((t) => tokenMatches(sel, t));
      // An empty selector is only unambiguous with one token.
      if (sel === null) return all.length === 1 ? all[0] : null;
      return all[0] ?? null;
    },

    waiting() {
      return [...waiters.values()].filter((l) => l.length > 0).map((l) => l[0].token);
    },

    status() {
      return [...known.entries()].map(([key, token]) => ({
        token,
        cached: cache.has(key),
        waiting: (waiters.get(key)?.length ?? 0) > 0,
        absent: absentSince.has(key),
      }));
    },

    close() {
      broker.forgetAll();
      for (const a of absentSince.values()) clearTimeout(a.timer);
      absentSince.clear();
    },
  };
  return broker;
}

function isFinal(why: PinRequestReason): boolean {
  return why.triesLeft === 'final' || why.tries === 1;
}

function shellWord(s: string): string {
  return /^[\w.:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
