// How long PINs live, read once from the environment of the agent (the module hosts inherit
// it, so both sides apply the same rules):
//   TT_AGENT_PIN_LIFETIME       a PIN is kept this long after it was given (default: until
//                               ssh-add -x, tt-agent forget-pin or a long absence)
//   TT_AGENT_PIN_ABSENT_FORGET  a token out of its reader longer than this has its PIN
//                               forgotten (default 5m)
//   TT_AGENT_UNLOCK_WAIT        how long a signature waits for `tt-agent unlock` when no
//                               dialog can be shown (default 60s; 0: do not wait)
//   TT_AGENT_CONTEXT_PIN        cache (default) | prompt: whether a CKA_ALWAYS_AUTHENTICATE
//                               key may use the cached PIN, or asks for every signature
// Times are ssh-agent time formats: 90, 10m, 1h30m.
import { parseLifetime } from '../protocol/lifetime';

export interface PinPolicy {
  /** Infinity: no expiry. */
  lifetimeMs: number;
  absentForgetMs: number;
  unlockWaitMs: number;
  contextPinFromCache: boolean;
  /** Settings that were ignored, one line each, for the log. */
  problems: string[];
}

export const PIN_LIFETIME_ENV = 'TT_AGENT_PIN_LIFETIME';
export const PIN_ABSENT_FORGET_ENV = 'TT_AGENT_PIN_ABSENT_FORGET';
export const UNLOCK_WAIT_ENV = 'TT_AGENT_UNLOCK_WAIT';
export const CONTEXT_PIN_ENV = 'TT_AGENT_CONTEXT_PIN';

export function readPinPolicy(env: NodeJS.ProcessEnv = process.env): PinPolicy {
  const problems: string[] = [];
  const time = (name: string, fallbackMs: number): number => {
    const text = env[name];
    if (text === undefined || text === '') return fallbackMs;
    const s = parseLifetime(text);
    if (s === undefined) {
      problems.push(`${name}=${JSON.stringify(text)} ignored: give seconds or a time like 90, 10m, 1h30m`);
      return fallbackMs;
    }
    return s * 1000;
  };
  const context = (env[CONTEXT_PIN_ENV] ?? 'cache').toLowerCase();
  if (context !== 'cache' && context !== 'prompt') problems.push(`${CONTEXT_PIN_ENV}=${JSON.stringify(env[CONTEXT_PIN_ENV])} ignored: give cache or prompt`);
  return {
    lifetimeMs: time(PIN_LIFETIME_ENV, Infinity),
    absentForgetMs: time(PIN_ABSENT_FORGET_ENV, 5 * 60_000),
    unlockWaitMs: time(UNLOCK_WAIT_ENV, 60_000),
    contextPinFromCache: context !== 'prompt',
    problems,
  };
}
