// The agent's one PIN broker (src/pin/broker.ts), made on first use with the PIN policy from
// the environment (pin-policy.ts) and the OS keyring when one answers. One per agent process:
// the module hosts' PIN requests, `tt-agent unlock` / `forget-pin` and ssh-add -x all meet here.
import { createPinBroker, type PinBroker } from '../pin/broker';
import type { TokenRef } from '../pin/token-ref';
import { openKeyring } from '../pin/keyring';
import { readPinPolicy } from './pin-policy';

type Log = (level: 'info' | 'warn' | 'error', message: string) => void;

let broker: Promise<PinBroker> | undefined;
let sink: Log | undefined;
const absentListeners = new Set<(token: TokenRef) => void>();

/** Called whenever a module host reports a token pulled (remembered confirmations end then). */
export function onTokenAbsent(listener: (token: TokenRef) => void): () => void {
  absentListeners.add(listener);
  return () => void absentListeners.delete(listener);
}

/** The agent's PIN broker; the first caller with a log decides where its lines go. */
export function agentPins(log?: Log): Promise<PinBroker> {
  if (log && !sink) sink = log;
  if (!broker) broker = makeBroker();
  return broker;
}

/** The broker if one was made (ssh-add -x has nothing to forget otherwise). */
export function existingAgentPins(): Promise<PinBroker> | undefined {
  return broker;
}

async function makeBroker(): Promise<PinBroker> {
  const log = (level: 'info' | 'warn' | 'error', line: string) => sink?.(level, line);
  const policy = readPinPolicy();
  for (const p of policy.problems) log('warn', p);
  const keyring = await openKeyring({ log: (line) => log('info', line) }).catch(() => null);
  const pins = createPinBroker({
    keyring,
    cacheLifetimeMs: policy.lifetimeMs,
    absentForgetMs: policy.absentForgetMs,
    unlockWaitMs: policy.unlockWaitMs,
    contextSpecificFromCache: policy.contextPinFromCache,
    log: (line) => log('info', line),
  });
  return {
    ...pins,
    tokenAbsent(token) {
      pins.tokenAbsent(token);
      for (const l of absentListeners) l(token);
    },
  };
}
