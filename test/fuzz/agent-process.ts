// The compiled agent as fuzz and soak runs need it: `node bin/tt-agent -D -a SOCK` (info log,
// not debug: a million refusals at debug level would be the run's main cost), its stderr
// scanned line by line as it arrives and never kept whole, and its processes measured from
// /proc: the agent and its module hosts, their RSS and open file descriptors.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

// TT_AGENT_ROOT: run the agent of another build tree (a snapshot), e.g. to soak a release
// while the working tree keeps changing.
export const REPO_ROOT = process.env.TT_AGENT_ROOT ?? path.resolve(__dirname, '..', '..');
const TT_AGENT_BIN = path.join(REPO_ROOT, 'bin', 'tt-agent');

// The agent's own log lines: "<ISO time> tt-agent[PID]: LEVEL: message".
const LOG_LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z tt-agent\[\d+\]: (debug|info|warn|error): (.*)$/;
const MAX_KEPT = 40;

export interface StderrScan {
  lines: number;
  byLevel: Record<string, number>;
  /** Lines that are not the agent's log format: stack traces, V8 aborts, module noise. */
  unexpected: string[];
  unexpectedCount: number;
  /** Distinct error-level messages (digits folded), with counts. */
  errors: Map<string, number>;
}

export interface FuzzAgent {
  pid: number;
  sock: string;
  dir: string;
  child: ChildProcess;
  scan: StderrScan;
  alive(): boolean;
  stop(): Promise<void>;
}

export async function launchAgent(env: NodeJS.ProcessEnv, extraArgs: string[] = []): Promise<FuzzAgent> {
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-fuzz-agent-'));
  const sock = path.join(dir, 'agent.sock');
  const agentEnv = { ...env };
  for (const k of ['SSH_AUTH_SOCK', 'SSH_AGENT_PID', 'LISTEN_FDS', 'LISTEN_PID', 'SSH_ASKPASS', 'JOURNAL_STREAM']) delete agentEnv[k];
  // Nobody will type `tt-agent unlock` here: a token signature that needs the PIN fails at once.
  agentEnv.TT_AGENT_UNLOCK_WAIT ??= '0';
  const child = spawn(process.execPath, [TT_AGENT_BIN, '-D', '-a', sock, ...extraArgs], { env: agentEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  const scan: StderrScan = { lines: 0, byLevel: {}, unexpected: [], unexpectedCount: 0, errors: new Map() };
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    const parts = (partial + s).split('\n');
    partial = parts.pop()!;
    for (const line of parts) scanLine(scan, line);
  });
  const until = Date.now() + 15_000;
  while (!(await connects(sock))) {
    if (child.exitCode !== null || Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`tt-agent did not start: ${scan.unexpected.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    pid: child.pid!,
    sock,
    dir,
    child,
    scan,
    alive: () => child.exitCode === null && child.signalCode === null && fs.existsSync(`/proc/${child.pid}`),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function scanLine(scan: StderrScan, line: string): void {
  if (line.length === 0) return;
  scan.lines++;
  const m = LOG_LINE.exec(line);
  if (!m) {
    scan.unexpectedCount++;
    if (scan.unexpected.length < MAX_KEPT) scan.unexpected.push(line.slice(0, 300));
    return;
  }
  scan.byLevel[m[1]] = (scan.byLevel[m[1]] ?? 0) + 1;
  if (m[1] === 'error') {
    const key = m[2].replace(/\d+/g, 'N').slice(0, 200);
    if (scan.errors.has(key) || scan.errors.size < MAX_KEPT) scan.errors.set(key, (scan.errors.get(key) ?? 0) + 1);
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

/** The agent and every process below it (module hosts), from /proc. */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, pp] of parent) if (pp === tree[i]) tree.push(pid);
  return tree;
}

export interface TreeStats {
  pids: number[];
  /** KiB, summed over the tree */
  rssKiB: number;
  agentRssKiB: number;
  fds: number;
  agentFds: number;
}

export function treeStats(root: number): TreeStats {
  const pids = processTree(root);
  let rss = 0;
  let agentRss = 0;
  let fds = 0;
  let agentFds = 0;
  for (const pid of pids) {
    let r = 0;
    let f = 0;
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      r = m ? Number(m[1]) : 0;
      f = fs.readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      continue;
    }
    rss += r;
    fds += f;
    if (pid === root) {
      agentRss = r;
      agentFds = f;
    }
  }
  return { pids, rssKiB: rss, agentRssKiB: agentRss, fds, agentFds };
}
