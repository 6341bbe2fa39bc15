// The composition root of the agent process: the one place that knows every part. It makes
// the PIN broker (the only holder of PINs, with the policy from the environment and the OS
// keyring when one answers) and the module-host provider factory, and hands both to the
// agent. So src/agent/ and src/host/ never import each other.
import { startDaemon, type Daemon, type DaemonOptions } from '../agent/daemon';
import type { AgentLog } from '../agent/log';
import { createHostProvider } from '../host/host-provider';
import { PinBroker } from '../pin/broker';
import { openKeyring } from '../pin/keyring';
import { readPinPolicy } from '../pin/pin-policy';

/** TT_AGENT_SIGN_TIMEOUT_MS: how long a token signature may take before its module host is replaced. */
export const SIGN_TIMEOUT_ENV = 'TT_AGENT_SIGN_TIMEOUT_MS';

export async function startAgentDaemon(opts: Omit<DaemonOptions, 'providerFactory' | 'pins'>): Promise<Daemon> {
  const { log } = opts;
  const pins = makePinBroker(log);
  const signTimeout = signTimeoutMs(log);
  return startDaemon({
    ...opts,
    pins,
    providerFactory: (modulePath) => createHostProvider(modulePath, { log, signTimeoutMs: signTimeout, pins }),
  });
}

export function makePinBroker(log: AgentLog): PinBroker {
  const policy = readPinPolicy();
  for (const p of policy.problems) log('warn', p);
  return new PinBroker({
    // Opened when a PIN is first looked for, as before: D-Bus does not delay the agent's start.
    keyring: () => openKeyring({ log: (line) => log('info', line) }),
    cacheLifetimeMs: policy.lifetimeMs,
    absentForgetMs: policy.absentForgetMs,
    unlockWaitMs: policy.unlockWaitMs,
    contextSpecificFromCache: policy.contextPinFromCache,
    log: (line) => log('info', line),
  });
}

function signTimeoutMs(log: AgentLog): number | undefined {
  const text = process.env[SIGN_TIMEOUT_ENV];
  if (text === undefined || text === '') return undefined;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 100 || ms > 3_600_000) {
    log('warn', `${SIGN_TIMEOUT_ENV}=${JSON.stringify(text)} ignored: give milliseconds between 100 and 3600000`);
    return undefined;
  }
  log('info', `token signatures time out after ${ms} ms`);
  return ms;
}
