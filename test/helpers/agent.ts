// Starts the compiled tt-agent in the foreground (`node bin/tt-agent -d -a SOCK`) on a socket
// in a fresh temp dir, and stops it. Its debug log is kept for assertions. Build first
// (`npm run build`): the tests judge what users run, not the TypeScript sources.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { killAndWait } from './sshd';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const TT_AGENT_BIN = path.join(REPO_ROOT, 'bin', 'tt-agent');

export interface RunningAgent {
  sock: string;
  dir: string;
  pid: number;
  child: ChildProcess;
  /** The environment for tools that should use this agent (SSH_AUTH_SOCK set). */
  env: NodeJS.ProcessEnv;
  /** The agent's log so far (stderr, debug level). */
  log(): string;
  /** Waits until the log contains `text` (or times out and throws). */
  waitForLog(text: string | RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StartAgentOptions {
  /** Extra flags, e.g. ['-t', '10', '-P', '/usr/lib/softhsm/*']. */
  args?: string[];
  /** Environment of the agent (SOFTHSM2_CONF, SSH_ASKPASS, ...); default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** Socket path; default `<tempdir>/agent.sock`. */
  sock?: string;
  /** Runs the agent through this, e.g. a mount namespace's nsenter (test/helpers/mount-ns.ts). */
  wrap?: (cmd: string, args: string[]) => [string, string[]];
}

/** A clean environment for OpenSSH tools: no inherited agent, this agent's socket. */
export function agentEnv(sock: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SSH_AUTH_SOCK: sock, ...extra };
  delete env.SSH_AGENT_PID;
  return env;
}

export async function startAgent(opts: StartAgentOptions = {}): Promise<RunningAgent> {
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before the agent tests');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-agent-test-'));
  const sock = opts.sock ?? path.join(dir, 'agent.sock');
  const env = { ...(opts.env ?? process.env) };
  delete env.SSH_AUTH_SOCK;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  const argv: [string, string[]] = [process.execPath, [TT_AGENT_BIN, '-d', '-a', sock, ...(opts.args ?? [])]];
  const [cmd, args] = opts.wrap ? opts.wrap(...argv) : argv;
  const child = spawn(cmd, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (log += s));
  child.stdout!.resume();
  const until = Date.now() + 15_000;
  while (!(await connects(sock))) {
    if (child.exitCode !== null || Date.now() > until) {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`tt-agent did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  // An agent that ends before its test stops it is a finding: say how, with its last words.
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (stopping) return;
    process.stderr.write(`# tt-agent (pid ${child.pid}) ended on its own: ${signal ?? `exit ${code}`}; its log ends:\n${log.split('\n').slice(-40).join('\n')}\n`);
  });
  const agent: RunningAgent = {
    sock,
    dir,
    pid: child.pid!,
    child,
    env: agentEnv(sock),
    log: () => log,
    waitForLog: (text, timeoutMs) => waitForLogText(() => log, text, timeoutMs),
    stop: async () => {
      stopping = true;
      await killAndWait(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return agent;
}

/** Resolves once the log (read again every 20 ms) shows `text`; throws with the log after the deadline. */
export async function waitForLogText(log: () => string, text: string | RegExp, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  const seen = () => (typeof text === 'string' ? log().includes(text) : text.test(log()));
  while (!seen()) {
    if (Date.now() > end) throw new Error(`agent log never showed ${text}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function connects(sock: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(sock);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A connection to a socket once it listens (systemd-socket-activate's, say). The file appears
 * at bind(), before listen(): a connect in between is refused, and with socket activation no
 * agent would ever be started for it.
 */
export async function connectWhenListening(sock: string, timeoutMs = 10_000): Promise<net.Socket> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise((resolve, reject) => {
        const c = net.connect(sock);
        c.once('connect', () => {
          c.off('error', reject);
          resolve(c);
        });
        c.once('error', reject);
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
