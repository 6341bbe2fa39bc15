// The long-running agent process (`tt-agent -D`, the background child of `tt-agent`, or a
// systemd service): hardening, the socket server, token providers, clean shutdown on
// SIGTERM / SIGINT / SIGHUP (socket removed, and the private directory when it was ours).
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { parseAllowlist, DEFAULT_ALLOWLIST } from './allowlist';
import type { AgentLog } from './log';
import { createAgent, type Agent } from './server';
import type { ProviderFactory } from './provider';

export interface DaemonOptions {
  socketPath?: string;
  /** Inherited listening socket (systemd socket activation). */
  fd?: number;
  defaultLifetime?: number;
  /** Comma-separated glob list, as ssh-agent -P. */
  allowlist?: string;
  log: AgentLog;
  /** Directory made for this agent alone, removed on exit. */
  disposableDir?: string;
  version: string;
}

export interface Daemon {
  agent: Agent;
  /** Resolves once the agent has shut down after a signal. */
  stopped: Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { log } = opts;
  const native = loadNative(log);
  // Keys and PINs live in this process: no core dumps, no ptrace by same-uid processes.
  native?.setDumpable(false);
  const uid = process.getuid?.() ?? 0;
  const acceptPeer = native
    ? (socket: Socket) => {
        const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
        if (fd === undefined || fd < 0) return { ok: true as const };
        const cred = native.peerCred(fd);
        if (cred.uid === uid || cred.uid === 0) return { ok: true as const };
        return { ok: false as const, reason: `peer uid ${cred.uid} (pid ${cred.pid}) is not the agent's owner (uid ${uid})` };
      }
    : undefined;

  const agent = await createAgent({
    socketPath: opts.fd === undefined ? opts.socketPath : undefined,
    listen: opts.fd !== undefined ? { fd: opts.fd } : undefined,
    providerFactory: await loadProviderFactory(log),
    allowlist: opts.allowlist !== undefined ? parseAllowlist(opts.allowlist) : DEFAULT_ALLOWLIST,
    defaultLifetime: opts.defaultLifetime,
    log,
    acceptPeer,
    version: opts.version,
  });
  log('info', `tt-agent ${opts.version} started, pid ${process.pid}`);

  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log('info', `${signal} received, shutting down`);
      void agent.close().then(() => {
        if (opts.disposableDir) rmSync(opts.disposableDir, { recursive: true, force: true });
        resolve();
      });
    };
    for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(s, () => stop(s));
  });
  return { agent, stopped };
}

type Native = { setDumpable(flag: boolean): void; peerCred(fd: number): { uid: number; pid: number } };

function loadNative(log: AgentLog): Native | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('../native') as { nativeAvailable(): boolean } & Native;
    if (mod.nativeAvailable()) return mod;
    log('warn', 'native addon not built: peer credentials are not checked and the process stays dumpable');
  } catch (err) {
    log('warn', `native addon unavailable (${(err as Error).message})`);
  }
  return undefined;
}

async function loadProviderFactory(log: AgentLog): Promise<ProviderFactory | undefined> {
  try {
    const { createHostProvider } = (await import('../host/provider')) as {
      createHostProvider: (p: string, o: { log: (l: 'info' | 'warn' | 'error', m: string) => void }) => import('./provider').TokenProvider;
    };
    return (modulePath) => createHostProvider(modulePath, { log });
  } catch (err) {
    log('warn', `token support unavailable (${(err as Error).message}); only file keys can be added`);
    return undefined;
  }
}
