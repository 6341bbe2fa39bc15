// The two agents under test, each started on its own socket in a temp dir and loaded with
// the same token through `ssh-add -s` (the PIN comes from an SSH_ASKPASS script):
//   OpenSSH: ssh-agent -D -a SOCK
//   tt-agent: node --max-semi-space-size=1 bin/tt-agent -D -a SOCK   (the compiled CLI, as users run it)
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { listIdentities, type ListedKey } from './agent-wire';

const execFileP = promisify(execFile);
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** BENCH_TT_AGENT_BIN measures another build (e.g. a checkout before a change) against the same token and client. */
export const TT_AGENT_BIN = process.env.BENCH_TT_AGENT_BIN ?? path.join(REPO_ROOT, 'bin', 'tt-agent');

export type AgentName = 'OpenSSH' | 'tt-agent' | 'tt-agent, module in-process';

export interface BenchAgent {
  name: AgentName;
  sock: string;
  pid: number;
  keys: ListedKey[];
  /** stderr of the agent so far */
  log(): string;
  stop(): Promise<void>;
}

export interface AgentSetup {
  dir: string;
  /** environment with SOFTHSM2_CONF of the bench token */
  env: NodeJS.ProcessEnv;
  module: string;
  pin: string;
}

export async function startOpenSsh(setup: AgentSetup): Promise<BenchAgent> {
  const sock = path.join(setup.dir, 'openssh.sock');
  const child = spawn('ssh-agent', ['-D', '-a', sock], { env: cleanEnv(setup.env), stdio: ['ignore', 'ignore', 'pipe'] });
  return finishStart('OpenSSH', child, sock, setup);
}

/**
 * `nodeArgs` go before the script (e.g. --cpu-prof); the agent passes them on to its module hosts.
 * `bin`: another checkout's bin/tt-agent (compare.ts runs two builds side by side).
 */
export async function startTtAgent(setup: AgentSetup, nodeArgs: string[] = [], bin = TT_AGENT_BIN): Promise<BenchAgent> {
  if (!fs.existsSync(path.join(path.dirname(bin), '..', 'dist', 'cli', 'main.js'))) throw new Error(`${path.dirname(path.dirname(bin))}/dist is missing: run npm run build there first`);
  const sock = path.join(setup.dir, `tt-agent-${path.basename(path.dirname(path.dirname(bin)))}.sock`);
  // The flag users' agents run with: the starter (src/cli/agent.ts) and the systemd unit
  // (contrib/tt-agent.service) both give it; the module hosts get it from the agent anyway.
  const child = spawn(process.execPath, ['--max-semi-space-size=1', ...nodeArgs, bin, '-D', '-a', sock], {
    env: cleanEnv(setup.env),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return finishStart('tt-agent', child, sock, setup);
}

/** The agent core with the module in its own process (inline-agent.ts), for BENCH_INLINE=1. */
export async function startInlineAgent(setup: AgentSetup): Promise<BenchAgent> {
  const sock = path.join(setup.dir, 'inline.sock');
  const child = spawn(process.execPath, [...process.execArgv, path.join(__dirname, 'inline-agent.ts'), sock], {
    env: cleanEnv(setup.env),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return finishStart('tt-agent, module in-process', child, sock, setup);
}

async function finishStart(name: AgentName, child: ChildProcess, sock: string, setup: AgentSetup): Promise<BenchAgent> {
  let log = '';
  // The agent logs a line per signature (the use log): keep only the tail for error messages.
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (log = (log + s).slice(-65536)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
  };
  try {
    await waitForSocket(sock, child, () => log);
    await addToken(sock, setup);
    const keys = await listIdentities(sock);
    return { name, sock, pid: child.pid!, keys, log: () => log, stop };
  } catch (err) {
    await stop();
    throw new Error(`${name}: ${(err as Error).message}\n${log}`);
  }
}

/** `ssh-add -s MODULE` with the PIN from an askpass script, as a user without a tty would. */
async function addToken(sock: string, setup: AgentSetup): Promise<void> {
  const askpass = path.join(setup.dir, 'askpass.sh');
  if (!fs.existsSync(askpass)) fs.writeFileSync(askpass, `#!/bin/sh\necho '${setup.pin}'\n`, { mode: 0o700 });
  await execFileP('ssh-add', ['-s', setup.module], {
    env: { ...cleanEnv(setup.env), SSH_AUTH_SOCK: sock, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' },
    timeout: 60_000,
  });
}

async function waitForSocket(sock: string, child: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with status ${child.exitCode}: ${log()}`);
    try {
      await listIdentities(sock);
      return;
    } catch {
      if (Date.now() > until) throw new Error('socket did not answer within 20 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** The environment minus any agent the bench itself runs under. */
export function cleanEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const e = { ...env };
  delete e.SSH_AUTH_SOCK;
  delete e.SSH_AGENT_PID;
  delete e.LISTEN_FDS;
  delete e.LISTEN_PID;
  return e;
}
