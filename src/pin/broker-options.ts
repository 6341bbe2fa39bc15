// How the PIN broker (broker.ts) is set up (where it may ask, how long it keeps a PIN), and
// the small records it keeps about PINs it handed out.
import type { TokenRef } from './token-ref';
import type { AskpassOptions } from './askpass';
import type { KeyringSource } from './remembered-pins';
import type { PinentryOptions } from './pinentry';

export interface PinBrokerOptions {
  askpass?: AskpassOptions;
  /** false: never run pinentry. */
  pinentry?: PinentryOptions | false;
  /** The OS keyring, or a way to open it on first use. */
  keyring?: KeyringSource;
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

export interface ForgetResult {
  token: TokenRef;
  /** a PIN was held in the agent's memory */
  held: boolean;
  /** a PIN was removed from the OS keyring */
  remembered: boolean;
}

/** Where the last PIN handed out for a token came from, so a rejection forgets the right one. */
export interface Handout {
  fromCache: boolean;
  /** A prompted PIN that the cache then kept. */
  cachedNow: boolean;
}

/** A context-specific login's PIN and the user login's are told apart: one may be wrong, the other proven. */
export function handoutKey(key: string, why: { contextSpecific?: boolean }): string {
  return why.contextSpecific ? `${key}\0context` : key;
}
