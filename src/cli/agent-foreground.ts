// `-D` / `-d` / systemd socket activation (and the background child): this process is the
// agent. Its log goes to stderr; the agent code is imported only here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DISPOSABLE_DIR_ENV, systemdSocket, type AgentArgs, type Shell } from './agent-args';
import { stderrLog } from './agent-log';
import { alreadyRunning, checkSocketPath, pathTaken } from './agent-socket';
import { probeAgentSocket } from './live-agent';
import { envLines } from './shell-env';

export async function runForeground(args: AgentArgs, shell: Shell): Promise<number> {
  // systemd stops a unit with SIGTERM, possibly while the agent is still loading: a stop
  // is a success (exit 0) at any moment, not only once the daemon's own handlers are in.
  const early = catchStopSignals();
  const fd = systemdSocket();
  const log = stderrLog(args.debug);
  let socketPath = args.socketPath;
  let disposableDir = process.env[DISPOSABLE_DIR_ENV];
  if (fd === undefined && !socketPath) {
    const { defaultSocketLocation } = await import('../agent/runtime-dir');
    const loc = defaultSocketLocation();
    socketPath = loc.socketPath;
    if (loc.disposableDir) disposableDir = loc.dir;
  }
  // A directory made for this agent alone holds nothing yet; any other path is checked first.
  if (fd === undefined && socketPath && disposableDir === undefined) await checkSocketPath(socketPath);
  log('debug', `starting, pid ${process.pid}${fd !== undefined ? ', listening socket from systemd (fd 3)' : ''}`);
  if (early.signal) return 0;
  const { startAgentDaemon } = await import('./compose-agent');
  if (early.signal) return 0;
  let daemon;
  try {
    daemon = await startAgentDaemon({
      socketPath,
      fd,
      defaultLifetime: args.lifetime,
      allowlist: args.allowlist,
      allowRemoteProviders: args.allowRemoteModules,
      log,
      disposableDir,
      version: packageVersion(),
    });
  } catch (err) {
    throw await socketTakenError(err, socketPath);
  } finally {
    early.release();
  }
  // Handlers of the daemon are in place now; a signal caught before them is replayed to them.
  if (early.signal) process.kill(process.pid, early.signal);
  else if (fd === undefined && socketPath) process.stdout.write(envLines(shell, socketPath, process.pid));
  await daemon.stopped;
  // Everything is closed, so the process ends once its event loop drains. One thing could
  // still hold it: a question to a wedged pcscd on the thread pool (src/host/reader-watch.ts;
  // pcsc-lite waits without a limit). A stop must end the process all the same.
  setTimeout(() => process.exit(0), STOP_DRAIN_MS).unref();
  return 0;
}

const STOP_DRAIN_MS = 2000;

function catchStopSignals(): { signal?: NodeJS.Signals; release(): void } {
  const state: { signal?: NodeJS.Signals; release(): void } = { release: () => undefined };
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  const onSignal = (s: NodeJS.Signals) => (state.signal ??= s);
  for (const s of signals) process.on(s, onSignal);
  state.release = () => {
    for (const s of signals) process.off(s, onSignal);
  };
  return state;
}

/**
 * A socket someone else holds, told with what only this side can find out: who listens there
 * now (probed), and the -a flag that chooses another path. Every other failure says all itself.
 */
async function socketTakenError(err: unknown, socketPath: string | undefined): Promise<unknown> {
  if (!socketPath) return err;
  const { SocketInUseError, PathTakenError } = await import('../agent/socket-file');
  if (err instanceof SocketInUseError) {
    const p = await probeAgentSocket(socketPath);
    return p.kind === 'foreign' ? pathTaken(socketPath, p.why) : alreadyRunning(socketPath, p.kind === 'live' ? p.live.pid : undefined);
  }
  if (err instanceof PathTakenError) return pathTaken(socketPath, err.message);
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return pathTaken(socketPath, 'another process bound it first');
  return err;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
