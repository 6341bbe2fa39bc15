// The long-running agent process (`tt-agent -D`, the background child of `tt-agent`, or a
// systemd service): hardening, the socket server, token providers, clean shutdown on
// SIGTERM / SIGINT / SIGHUP (socket removed, and the private directory when it was ours).
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseAllowlist, DEFAULT_ALLOWLIST } from './allowlist';
import type { PinBroker } from '../pin/broker';
import type { AgentLog } from './log';
import { peerUidCheck } from './peer-check';
import { createAgent, type Agent } from './server';
import type { ProviderFactory } from '../token-provider/provider';
import { ensurePrivateDir } from './runtime-dir';
import type { Hinted } from '../hint';

export interface DaemonOptions {
  socketPath?: string;
  /** Inherited listening socket (systemd socket activation). */
  fd?: number;
  defaultLifetime?: number;
  /** Comma-separated glob list, as ssh-agent -P. */
  allowlist?: string;
  /**
   * Let connections bound to an ssh session (forwarded agents) load PKCS#11 modules, as
   * ssh-agent -O allow-remote-pkcs11. Default: TT_AGENT_ALLOW_REMOTE_MODULES=1, else off.
   */
  allowRemoteProviders?: boolean;
  log: AgentLog;
  /** Directory made for this agent alone, removed on exit. */
  disposableDir?: string;
  version: string;
  /** Makes the provider of a module (the module host); handed in by the composition root (cli/compose-agent.ts). */
  providerFactory?: ProviderFactory;
  /** The agent's PIN broker, the only holder of PINs. */
  pins?: PinBroker;
}

export interface Daemon {
  agent: Agent;
  /** Resolves once the agent has shut down after a signal. */
  stopped: Promise<void>;
}

/** The agent cannot guarantee that only its owner talks to it; it did not start. */
export class UnprotectedSocketError extends Error implements Hinted {
  readonly hint = 'Build the native addon (npm run build:native in the tt-agent package), or put the socket in a directory only you can enter (mode 0700).';
  constructor(why: string) {
    super(`the native addon is not built, so peer credentials cannot be checked, and ${why}`);
    this.name = 'UnprotectedSocketError';
  }
}

// Environment knobs, read once at start (documented in man/tt-agent.1, SECURITY and ENVIRONMENT).
export const ALLOW_REMOTE_MODULES_ENV = 'TT_AGENT_ALLOW_REMOTE_MODULES';

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { log } = opts;
  const native = loadNative(log);
  const uid = process.getuid?.() ?? 0;
  if (native) {
    // Keys and PINs live in this process: no core dumps, no ptrace by same-uid processes.
    native.setDumpable(false);
  } else {
    // Without SO_PEERCRED the file modes are the only barrier: accept that only when they
    // really are one (the socket's directory is ours and closed to everyone else).
    if (opts.fd === undefined && opts.socketPath) checkPrivate(dirname(opts.socketPath));
    log('warn', 'SECURITY: native addon not built: peer credentials are NOT checked (only the 0700 socket directory keeps others out) and this process can be ptrace-attached and dumped');
  }
  const allowRemote = opts.allowRemoteProviders ?? process.env[ALLOW_REMOTE_MODULES_ENV] === '1';
  if (allowRemote) log('warn', 'forwarded connections may load PKCS#11 modules (remote module loading enabled)');

  const agent = await createAgent({
    socketPath: opts.fd === undefined ? opts.socketPath : undefined,
    listen: opts.fd !== undefined ? { fd: opts.fd } : undefined,
    providerFactory: opts.providerFactory,
    pins: opts.pins,
    allowlist: opts.allowlist !== undefined ? parseAllowlist(opts.allowlist) : DEFAULT_ALLOWLIST,
    defaultLifetime: opts.defaultLifetime,
    log,
    acceptPeer: native ? peerUidCheck(native, uid) : undefined,
    allowRemoteProviders: allowRemote,
    version: opts.version,
  });
  if (!native && opts.fd !== undefined) {
    // systemd made the socket: check where it lives now that we can ask the server.
    const where = agent.server.address();
    try {
      if (typeof where !== 'string' || where === '') throw new UnprotectedSocketError('the inherited socket has no path to check');
      checkPrivate(dirname(where));
    } catch (err) {
      await agent.close();
      throw err;
    }
  }
  log('info', `tt-agent ${opts.version} started, pid ${process.pid}`);

  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log('info', `${signal} received, shutting down`);
      void agent.close().then(() => {
        opts.pins?.close();
        if (opts.disposableDir) rmSync(opts.disposableDir, { recursive: true, force: true });
        resolve();
      });
    };
    for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(s, () => stop(s));
  });
  // SIGUSR1: OpenSSH 10.0's emergency wipe — every key and PIN gone, tokens logged out, the
  // agent keeps running.
  process.on('SIGUSR1', () => {
    void agent.core.dropEverything().then((n) => log('info', `SIGUSR1: dropped ${n} key(s), unloaded every module and forgot every PIN`));
  });
  return { agent, stopped };
}

function checkPrivate(dir: string): void {
  try {
    ensurePrivateDir(dir);
  } catch (err) {
    throw new UnprotectedSocketError((err as Error).message);
  }
}

type Native = { setDumpable(flag: boolean): void; peerCred(fd: number): { uid: number; pid: number }; nativeMissing(): string[] };

function loadNative(log: AgentLog): Native | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('../native') as { nativeAvailable(): boolean } & Native;
    if (!mod.nativeAvailable()) return undefined;
    const missing = mod.nativeMissing();
    if (missing.length > 0) {
      log('warn', `the native addon is older than this tt-agent (it lacks ${missing.join(', ')}): run "npm run build:native" in the tt-agent package; until then a card pulled during a signature can hold that signature until the sign timeout`);
    }
    return mod;
  } catch (err) {
    log('debug', `native addon wrapper failed to load: ${(err as Error).message}`);
  }
  return undefined;
}
