// The agent's one PIN broker (src/pin/broker.ts), made on first use with the PIN policy from
// the environment (pin-policy.ts) and the OS keyring when one answers. One per agent process:
// the module hosts' PIN requests, `tt-agent unlock` / `forget-pin` and ssh-add -x all meet here.
import { createPinBroker, type PinBroker } from '../pin/broker';
import { openKeyring } from '../pin/keyring';
import { readPinPolicy } from './pin-policy';

type Log = (level: 'info' | 'warn' | 'error', message: string) => void;

let broker: Promise<PinBroker> | undefined;
let sink: Log | undefined;

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
  return createPinBroker({
    keyring,
    cacheLifetimeMs: policy.lifetimeMs,
    absentForgetMs: policy.absentForgetMs,
    unlockWaitMs: policy.unlockWaitMs,
    contextSpecificFromCache: policy.contextPinFromCache,
    log: (line) => log('info', line),
  });
}

/**
 * The broker as the agent core's PinVault. Until the broker can seal, locking forgets the
 * kept PINs (safe, but the next signature asks again).
 */
export const agentPinVault: import('./core').PinVault = {
  seal: async () => (await broker)?.forgetAll(),
  unseal: () => true,
  forgetAll: async () => (await broker)?.forgetAll(),
};
