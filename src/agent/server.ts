// createAgent: the socket server around the agent core. Listens on a unix socket path, an
// inherited file descriptor (systemd socket activation) or a server the caller made.
import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { DEFAULT_ALLOWLIST } from './allowlist';
import { askpassConfirm, type ConfirmFn } from './confirm';
import { serveConnection } from './connection';
import { AgentCore } from './core';
import { silentLog, type AgentLog } from './log';
import type { PinBroker } from '../pin/broker';
import { gdbusNotifier, type Notifier } from './notify';
import type { PeerVerdict } from './peer-check';
import type { ProviderFactory } from '../token-provider/provider';
import { defaultUseConfigPath } from './use-config-file';
import { prepareSocketPath } from './socket-file';

export interface CreateAgentOptions {
  /** Unix socket path to create (mode 0600; its directory should be 0700). A stale socket there is replaced. */
  socketPath?: string;
  /** Alternatively an inherited listening fd (systemd: 3) or a prepared server. */
  listen?: { fd: number } | Server;
  providerFactory?: ProviderFactory;
  /** The PIN broker (unlock-token, forget-pin, ssh-add -x); without one those requests fail. */
  pins?: PinBroker;
  /** Module allowlist (glob patterns against the realpath); default DEFAULT_ALLOWLIST. */
  allowlist?: string[];
  log?: AgentLog;
  /** Seconds; lifetime for keys added without one. */
  defaultLifetime?: number;
  /** Program asked for `confirm`-constrained keys; default $SSH_ASKPASS. */
  askpass?: string;
  /** Replaces the askpass confirmation entirely. */
  confirm?: ConfirmFn;
  /** Decides whether a connecting peer may talk to the agent (e.g. an SO_PEERCRED uid check). */
  acceptPeer?: (socket: Socket) => PeerVerdict;
  /** The key-use configuration file (man tt-agent-config); default $XDG_CONFIG_HOME/tt-agent/config; null: none. */
  useConfigFile?: string | null;
  /** Where desktop notifications of key uses go (when the configuration asks for them); default gdbus. */
  notifier?: Notifier;
  allowRemoteProviders?: boolean;
  version?: string;
}

export interface Agent {
  readonly core: AgentCore;
  readonly server: Server;
  /** The socket path, when listening on one. */
  readonly socketPath?: string;
  /** Stops listening, drops every connection and key, closes providers, removes the socket file. */
  close(): Promise<void>;
}

export async function createAgent(opts: CreateAgentOptions): Promise<Agent> {
  const log = opts.log ?? silentLog;
  const core = new AgentCore({
    providerFactory: opts.providerFactory,
    pins: opts.pins,
    allowlist: opts.allowlist ?? DEFAULT_ALLOWLIST,
    log,
    defaultLifetime: opts.defaultLifetime,
    confirm: opts.confirm ?? askpassConfirm(opts.askpass ?? process.env.SSH_ASKPASS, process.env),
    allowRemoteProviders: opts.allowRemoteProviders ?? false,
    version: opts.version ?? 'unknown',
    useConfigFile: opts.useConfigFile === undefined ? defaultUseConfigPath() : opts.useConfigFile,
    notifier: opts.notifier ?? gdbusNotifier(log),
  });
  const server = opts.listen && 'listen' in opts.listen ? opts.listen : createServer();
  const sockets = new Set<Socket>();
  let nextId = 1;
  server.on('connection', (socket: Socket) => {
    const id = nextId++;
    // Decided before any data handler exists: a refused peer's bytes are never read.
    let verdict: PeerVerdict;
    try {
      verdict = opts.acceptPeer?.(socket) ?? { ok: true };
    } catch (err) {
      verdict = { ok: false, reason: `peer check failed: ${(err as Error).message}` };
    }
    if (!verdict.ok) {
      log('warn', `connection ${id} refused: ${verdict.reason}`);
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const peer = verdict.pid !== undefined && verdict.uid !== undefined ? { pid: verdict.pid, uid: verdict.uid } : undefined;
    serveConnection(socket, core, id, peer);
  });
  server.on('error', (err) => log('error', `listening socket: ${err.message}`));

  let ownedPath: string | undefined;
  if (!server.listening) {
    if (opts.listen && 'fd' in opts.listen) {
      await listen(server, { fd: opts.listen.fd });
    } else if (opts.socketPath) {
      await prepareSocketPath(opts.socketPath);
      // Created 0600 from the start: a umask for the bind, then chmod in case umask was ignored.
      const oldMask = process.umask(0o177);
      try {
        await listen(server, { path: opts.socketPath });
      } finally {
        process.umask(oldMask);
      }
      ownedPath = opts.socketPath;
      await chmod(ownedPath, 0o600);
    } else {
      throw new Error('createAgent needs socketPath or listen');
    }
  }
  log('info', `listening on ${ownedPath ?? (opts.listen && 'fd' in opts.listen ? `fd ${opts.listen.fd}` : 'a given server')}`);

  let closing: Promise<void> | undefined;
  return {
    core,
    server,
    socketPath: ownedPath,
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const s of sockets) s.destroy();
        await closed;
        await core.unloadAll();
        core.dispose();
        if (ownedPath) await unlink(ownedPath).catch(() => undefined);
        log('info', 'agent stopped');
      })()),
  };
}

function listen(server: Server, where: { path: string } | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
