// `eval $(tt-agent)`: reuse the agent this shell already has, or the one at the fixed
// $XDG_RUNTIME_DIR socket, else start one in the background and print its environment once
// the kernel says our child listens on the socket (SO_PEERCRED pid = the child, uid = ours;
// the socket file a socket of ours). What the agent says about itself is never the proof.
import { spawn } from 'node:child_process';
import { closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DISPOSABLE_DIR_ENV, type AgentArgs, type Shell } from './agent-args';
import { alreadyRunning, checkSocketPath, pathTaken } from './agent-socket';
import { UserError } from './user-error';
import { probeAgentSocket, type Probe } from './live-agent';
import { envLines } from './shell-env';

const START_TIMEOUT_MS = 10_000;

export async function startInBackground(args: AgentArgs, shell: Shell): Promise<number> {
  // A profile line runs in every shell: reuse the agent this shell (or its parent) already has.
  const current = process.env.SSH_AUTH_SOCK;
  if (!args.socketPath && current) {
    const p = await probeAgentSocket(current);
    if (p.kind === 'live' && p.live.ttAgent) return printEnv(shell, current, p.live.pid);
  }
  let location;
  if (args.socketPath) {
    await checkSocketPath(args.socketPath);
    location = { socketPath: args.socketPath, dir: '', disposableDir: false };
  } else {
    const { defaultSocketLocation } = await import('../agent/runtime-dir');
    location = defaultSocketLocation();
    // The fixed $XDG_RUNTIME_DIR socket may hold the agent a previous login (or systemd) started.
    const p = location.disposableDir ? undefined : await probeAgentSocket(location.socketPath);
    if (p?.kind === 'live') return printEnv(shell, location.socketPath, p.live.pid);
    if (p?.kind === 'foreign') throw pathTaken(location.socketPath, p.why);
  }

  // A bad configuration would stop the child with its errors in the log: say them here instead.
  await checkUseConfig();
  const logPath = args.socketPath ? `${args.socketPath}.log` : join(location.dir, 'agent.log');
  const logFd = openLog(logPath);
  // A small young generation keeps a long-running agent's memory flat (measured: test/bench).
  const childArgs = ['--max-semi-space-size=1', process.argv[1], '-D', '-a', location.socketPath];
  if (args.lifetime !== undefined) childArgs.push('-t', String(args.lifetime));
  if (args.allowlist !== undefined) childArgs.push('-P', args.allowlist);
  if (args.allowRemoteModules) childArgs.push('-O', 'allow-remote-pkcs11');
  const env = { ...process.env };
  if (location.disposableDir) env[DISPOSABLE_DIR_ENV] = location.dir;
  else delete env[DISPOSABLE_DIR_ENV];
  const child = spawn(process.execPath, childArgs, { detached: true, stdio: ['ignore', 'ignore', logFd], env });
  closeSync(logFd);
  child.unref();
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = signal ?? `exit ${code}`));

  let seen: Probe | undefined;
  const until = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < until && exited === undefined) {
    seen = await probeAgentSocket(location.socketPath, 500);
    if (seen.kind === 'live' && isOurChild(seen, child.pid!)) return printEnv(shell, location.socketPath, child.pid);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (exited === undefined) child.kill('SIGTERM');
  const tail = logTail(logPath);
  if (location.disposableDir && exited !== undefined) rmSync(location.dir, { recursive: true, force: true });
  // Someone bound the path between our check and our child's bind.
  if (seen?.kind === 'foreign') throw pathTaken(location.socketPath, seen.why);
  if (seen?.kind === 'live') {
    // Two shells starting at once at the fixed socket: the other one's agent is ours too.
    if (!args.socketPath && seen.live.peer !== undefined) return printEnv(shell, location.socketPath, seen.live.pid);
    throw alreadyRunning(location.socketPath, seen.live.pid);
  }
  throw new UserError(
    `the agent did not start (${exited ?? `no answer within ${START_TIMEOUT_MS / 1000} s`}): ${tail}`,
    location.disposableDir ? 'Run tt-agent -d to start it in the foreground and see why.' : `See ${logPath}, or run tt-agent -d to start it in the foreground.`,
  );
}

/** The kernel's word that our child listens; without the addon, the private directory's (see live-agent). */
function isOurChild(p: Probe & { kind: 'live' }, childPid: number): boolean {
  return p.live.peer ? p.live.peer.pid === childPid : p.live.pid === childPid;
}

function printEnv(shell: Shell, socketPath: string, pid: number | undefined): number {
  process.stdout.write(envLines(shell, socketPath, pid));
  return 0;
}

/**
 * The background agent's log, next to its socket, maybe in a shared directory: never through
 * a symlink (O_NOFOLLOW), never a FIFO or device (O_NONBLOCK, then fstat), never a file
 * someone else made or linked; created 0600.
 */
function openLog(logPath: string): number {
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  let fd: number;
  try {
    fd = openSync(logPath, flags, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ELOOP from O_NOFOLLOW; the kernel's own symlink protection in sticky directories says EACCES.
    const link = code === 'ELOOP' || lstatSync(logPath, { throwIfNoEntry: false })?.isSymbolicLink();
    throw new UserError(
      link ? `${logPath} is a symbolic link; the agent's log never follows one.` : `cannot open the agent's log ${logPath} (${code}).`,
      'Remove it if it is yours, or choose another socket path with -a.',
    );
  }
  const st = fstatSync(fd);
  const uid = process.getuid?.() ?? 0;
  if (!st.isFile() || st.uid !== uid || st.nlink !== 1) {
    closeSync(fd);
    const what = !st.isFile() ? 'is not a regular file' : st.uid !== uid ? `belongs to uid ${st.uid}` : 'has other hard links';
    throw new UserError(`${logPath} ${what}; the agent's log is never written there.`, 'Remove it if it is yours, or choose another socket path with -a.');
  }
  if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  return fd;
}

function logTail(logPath: string): string {
  try {
    // The child reports a failure as `tt-agent: what` then an indented hint: quote the what.
    const lines = readFileSync(logPath, 'utf8').trim().split('\n');
    const report = [...lines].reverse().find((l) => l.startsWith('tt-agent: '));
    return report?.slice('tt-agent: '.length) ?? (lines[lines.length - 1] || 'no log output');
  } catch {
    return 'no log output';
  }
}

async function checkUseConfig(): Promise<void> {
  // Throws UseConfigError, which says all (src/hint.ts).
  const { UseConfigSource, defaultUseConfigPath } = await import('../agent/use-config-file');
  new UseConfigSource(defaultUseConfigPath(), () => {});
}
