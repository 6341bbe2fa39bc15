// `tt-agent` with no subcommand: the ssh-agent look-alike. Flags are parsed by hand and
// everything heavy is imported only when an agent actually starts, because `eval $(tt-agent)`
// runs in every new shell and usually just finds the running agent.
import { spawn } from 'node:child_process';
import { lstatSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
// Both small and dependency-free: the start path stays cheap.
import { parseLifetime } from '../agent/lifetime';
import { queryAgentStatus } from './agent-client';
import { UserError } from './errors';

type Shell = 'sh' | 'csh' | 'fish';

interface AgentArgs {
  shell?: Shell;
  socketPath?: string;
  foreground: boolean;
  debug: boolean;
  kill: boolean;
  lifetime?: number;
  allowlist?: string;
  allowRemoteModules?: boolean;
  notes: string[];
  command: string[];
}

interface LiveStatus {
  agent?: string;
  pid?: number;
  uid?: number;
}

const USAGE =
  'usage: tt-agent [-c | -s] [-Dd] [-a bind_address] [-P allowed_providers] [-t life]\n' +
  '       tt-agent [-c | -s] -k\n' +
  '       tt-agent <command> ...   (tt-agent --help lists the commands)\n';

// Environment a background agent gets from the starter: its private directory to remove on exit.
const DISPOSABLE_DIR_ENV = 'TT_AGENT_DISPOSABLE_DIR';
const START_TIMEOUT_MS = 10_000;

export async function runAgentCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  for (const n of args.notes) process.stderr.write(`tt-agent: ${n}\n`);
  if (args.command.length > 0) {
    throw new UserError(
      `running a command under the agent (${args.command[0]}) is not supported.`,
      'Start the agent with eval $(tt-agent), then run the command in that shell.',
      2,
    );
  }
  const shell = args.shell ?? shellFromEnv(process.env.SHELL);
  if (args.kill) return killAgent(shell);
  if (args.foreground || systemdSocket() !== undefined) return runForeground(args, shell);
  return startInBackground(args, shell);
}

/** `-D` / `-d` / systemd: this process is the agent. Its log goes to stderr (a file or journald in the background). */
async function runForeground(args: AgentArgs, shell: Shell): Promise<number> {
  const fd = systemdSocket();
  const log = stderrLog(args.debug);
  let socketPath = args.socketPath;
  let disposableDir = process.env[DISPOSABLE_DIR_ENV];
  const { startDaemon } = await import('../agent/daemon');
  if (fd === undefined && !socketPath) {
    const { defaultSocketLocation } = await import('../agent/runtime-dir');
    const loc = defaultSocketLocation();
    socketPath = loc.socketPath;
    if (loc.disposableDir) disposableDir = loc.dir;
  }
  let daemon;
  try {
    daemon = await startDaemon({
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
    if ((err as Error).name === 'UnprotectedSocketError') {
      throw new UserError((err as Error).message, (err as { hint?: string }).hint);
    }
    if ((err as Error).name === 'UseConfigError') {
      // Every bad line, each as file:line: what is wrong.
      throw new UserError(`the configuration has errors:\n${(err as Error).message}`, (err as { hint?: string }).hint);
    }
    if ((err as Error).name === 'SocketInUseError') {
      throw new UserError(`${(err as Error).message}.`, 'Use that agent (SSH_AUTH_SOCK=' + socketPath + '), or stop it first, or pick another path with -a.');
    }
    throw err;
  }
  if (fd === undefined && socketPath) process.stdout.write(envLines(shell, socketPath, process.pid));
  await daemon.stopped;
  return 0;
}

const PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };

function stderrLog(debug: boolean): (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void {
  // Under systemd, stderr is the journal: it wants sd-daemon(3) priority prefixes, not timestamps.
  const journal = process.env.JOURNAL_STREAM !== undefined;
  return (level, message) => {
    if (level === 'debug' && !debug) return;
    // Messages quote what clients and modules sent; a CR or LF there must not forge a log line.
    message = message.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    const line = journal
      ? `<${PRIORITY[level]}>${message}`
      : `${new Date().toISOString()} tt-agent[${process.pid}]: ${level}: ${message}`;
    process.stderr.write(`${line}\n`);
  };
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function parseArgs(argv: string[]): AgentArgs {
  const a: AgentArgs = { foreground: false, debug: false, kill: false, notes: [], command: [] };
  const withValue = new Set(['a', 'E', 'O', 'P', 't']);
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j];
      let value: string | undefined;
      if (withValue.has(flag)) {
        value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i];
        if (value === undefined) throw usage(`option -${flag} needs a value`);
        j = arg.length;
      }
      switch (flag) {
        case 'c':
          a.shell = 'csh';
          break;
        case 's':
          a.shell = 'sh';
          break;
        case 'D':
          a.foreground = true;
          break;
        case 'd':
          a.foreground = true;
          a.debug = true;
          break;
        case 'k':
          a.kill = true;
          break;
        case 'a':
          a.socketPath = resolve(value!);
          break;
        case 'P':
          a.allowlist = value;
          break;
        case 't': {
          a.lifetime = parseLifetimeArg(value!);
          break;
        }
        case 'E':
          a.notes.push(`-E ${value} ignored: the log always shows SHA256 fingerprints.`);
          break;
        case 'O':
          // ssh-agent's name for letting forwarded connections load modules (off since CVE-2023-38408).
          if (value === 'allow-remote-pkcs11') a.allowRemoteModules = true;
          else a.notes.push(`-O ${value} ignored: tt-agent has no such option.`);
          break;
        default:
          throw usage(`unknown option -${flag}`);
      }
    }
  }
  a.command = argv.slice(i);
  if (a.kill && a.foreground) throw usage('-k cannot be combined with -D or -d');
  return a;
}

function parseLifetimeArg(text: string): number {
  const seconds = parseLifetime(text);
  if (seconds === undefined) {
    throw new UserError(`invalid lifetime "${text}".`, 'Give seconds or a time like 90, 10m, 1h30m, 2d (at most 2147483647 s).', 2);
  }
  return seconds;
}

function usage(what: string): UserError {
  return new UserError(what, USAGE.trimEnd(), 2);
}

function shellFromEnv(shell: string | undefined): Shell {
  if (shell?.endsWith('fish')) return 'fish';
  if (shell?.endsWith('csh')) return 'csh';
  return 'sh';
}

/** File descriptor 3 when systemd passed us a listening socket (sd_listen_fds(3)). */
export function systemdSocket(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (env.LISTEN_PID !== String(process.pid)) return undefined;
  return Number(env.LISTEN_FDS) >= 1 ? 3 : undefined;
}

function quote(v: string, shell: Shell): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(v)) return v;
  return shell === 'fish' ? `'${v.replace(/[\\']/g, '\\$&')}'` : `'${v.replace(/'/g, `'\\''`)}'`;
}

export function envLines(shell: Shell, socketPath: string, pid: number): string {
  const sock = quote(socketPath, shell);
  switch (shell) {
    case 'csh':
      return `setenv SSH_AUTH_SOCK ${sock};\nsetenv SSH_AGENT_PID ${pid};\necho Agent pid ${pid};\n`;
    case 'fish':
      return `set -x SSH_AUTH_SOCK ${sock};\nset -x SSH_AGENT_PID ${pid};\necho Agent pid ${pid};\n`;
    case 'sh':
      return `SSH_AUTH_SOCK=${sock}; export SSH_AUTH_SOCK;\nSSH_AGENT_PID=${pid}; export SSH_AGENT_PID;\necho Agent pid ${pid};\n`;
  }
}

function killAgent(shell: Shell): number {
  const text = process.env.SSH_AGENT_PID;
  const pid = Number(text);
  if (!text || !Number.isInteger(pid) || pid <= 1) {
    throw new UserError(
      text ? `SSH_AGENT_PID "${text}" is not a process id.` : 'SSH_AGENT_PID is not set, so there is no agent to kill.',
      'Run tt-agent -k in the shell where eval $(tt-agent) ran.',
    );
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      `cannot kill agent pid ${pid} (${code === 'ESRCH' ? 'no such process' : code}).`,
      code === 'ESRCH' ? 'It is gone already; unset SSH_AUTH_SOCK and SSH_AGENT_PID.' : 'Is it your agent? Check SSH_AGENT_PID.',
    );
  }
  const unset =
    shell === 'csh'
      ? 'unsetenv SSH_AUTH_SOCK;\nunsetenv SSH_AGENT_PID;\n'
      : shell === 'fish'
        ? 'set -e SSH_AUTH_SOCK;\nset -e SSH_AGENT_PID;\n'
        : 'unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;\n';
  process.stdout.write(`${unset}echo Agent pid ${pid} killed;\n`);
  return 0;
}

/** The status of a tt-agent of this user listening on `socketPath`, or null. */
async function liveAgentOf(socketPath: string): Promise<LiveStatus | null> {
  try {
    const st = lstatSync(socketPath);
    if (!st.isSocket() || st.uid !== process.getuid?.()) return null;
  } catch {
    return null;
  }
  const status = await queryAgentStatus<LiveStatus>(socketPath, { timeoutMs: 2000 });
  if (!status || status.agent !== 'tt-agent' || status.uid !== process.getuid?.() || typeof status.pid !== 'number') return null;
  return status;
}

async function startInBackground(args: AgentArgs, shell: Shell): Promise<number> {
  // A profile line runs in every shell: reuse the agent this shell (or its parent) already has.
  const current = process.env.SSH_AUTH_SOCK;
  if (!args.socketPath && current) {
    const live = await liveAgentOf(current);
    if (live) {
      process.stdout.write(envLines(shell, current, live.pid!));
      return 0;
    }
  }
  const { defaultSocketLocation } = await import('../agent/runtime-dir');
  const location = args.socketPath
    ? { socketPath: args.socketPath, dir: dirname(args.socketPath), disposableDir: false }
    : defaultSocketLocation();
  if (!args.socketPath) {
    // The fixed $XDG_RUNTIME_DIR socket may hold the agent a previous login started.
    const live = await liveAgentOf(location.socketPath);
    if (live) {
      process.stdout.write(envLines(shell, location.socketPath, live.pid!));
      return 0;
    }
  }

  // A bad configuration would stop the child with its errors in the log: say them here instead.
  await checkUseConfig();
  const logPath = args.socketPath ? `${args.socketPath}.log` : join(location.dir, 'agent.log');
  const logFd = openSync(logPath, 'a', 0o600);
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

  const until = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < until && exited === undefined) {
    const live = await queryAgentStatus<LiveStatus>(location.socketPath, { timeoutMs: 500 });
    if (live?.pid === child.pid) {
      process.stdout.write(envLines(shell, location.socketPath, child.pid!));
      return 0;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  if (exited === undefined) child.kill('SIGTERM');
  if (location.disposableDir && exited !== undefined) {
    const tail = logTail(logPath);
    rmSync(location.dir, { recursive: true, force: true });
    throw new UserError(`the agent did not start (${exited}): ${tail}`, 'Run tt-agent -d to start it in the foreground and see why.');
  }
  throw new UserError(
    `the agent did not start (${exited ?? `no answer within ${START_TIMEOUT_MS / 1000} s`}): ${logTail(logPath)}`,
    `See ${logPath}, or run tt-agent -d to start it in the foreground.`,
  );
}

async function checkUseConfig(): Promise<void> {
  const { UseConfigSource, defaultUseConfigPath } = await import('../agent/use-config-file');
  try {
    new UseConfigSource(defaultUseConfigPath(), () => {});
  } catch (err) {
    if ((err as Error).name !== 'UseConfigError') throw err;
    throw new UserError(`the configuration has errors:\n${(err as Error).message}`, (err as { hint?: string }).hint);
  }
}

function logTail(logPath: string): string {
  try {
    const lines = readFileSync(logPath, 'utf8').trim().split('\n');
    return lines[lines.length - 1] || 'no log output';
  } catch {
    return 'no log output';
  }
}

export { DISPOSABLE_DIR_ENV, type AgentArgs, type Shell };
