// What a new login shell pays for its agent, warm (agent running, files in the page cache):
// the profile snippet (contrib/profile.sh: shell tests and one `ssh-add -l`, no Node),
// `tt-agent -s` (Node finds the running agent), a bare `node -e ''`, and `ssh-agent -s`
// (OpenSSH starting a fresh agent, which is what its users put in a profile). Medians of
// alternating runs. Standalone: node --import tsx test/bench/shell-start.ts [runs]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TT_AGENT_BIN, cleanEnv } from './agents';
import { median } from './stats';

export interface ShellStartTiming {
  /** `sh -c ". profile.sh"`: a new sh, then the snippet */
  snippetMs: number;
  /** `sh -c :`: the new sh alone. A login shell runs anyway; the snippet's own cost is the difference. */
  shellMs: number;
  ttAgentMs: number;
  nodeMs: number;
  sshAgentMs: number;
  runs: number;
}

export const PROFILE_SNIPPET = path.join(__dirname, '..', '..', 'contrib', 'profile.sh');

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): { ms: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

export function timeShellStart(env: NodeJS.ProcessEnv, runs: number): ShellStartTiming {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-bench-shell-'));
  const runtime = path.join(dir, 'run');
  fs.mkdirSync(runtime, { mode: 0o700 });
  const base: NodeJS.ProcessEnv = { ...cleanEnv(env), XDG_RUNTIME_DIR: runtime, SHELL: '/bin/sh' };
  const started = timed(process.execPath, [TT_AGENT_BIN, '-s'], base);
  const agentPid = Number(/SSH_AGENT_PID=(\d+);/.exec(started.stdout)![1]);
  const sock = path.join(runtime, 'tt-agent', 'agent.sock');
  const sshAgents: number[] = [];
  try {
    // The snippet must find the agent without running tt-agent: fail loudly otherwise.
    const check = timed('sh', ['-c', `PATH=/nonexistent:/usr/bin:/bin; . '${PROFILE_SNIPPET}'; printenv SSH_AUTH_SOCK`], base);
    if (check.stdout.trim() !== sock) throw new Error(`the profile snippet did not find the agent:\n${check.stdout}`);
    const cases = {
      snippet: () => timed('sh', ['-c', `. '${PROFILE_SNIPPET}'`], base),
      shell: () => timed('sh', ['-c', ':'], base),
      ttAgent: () => timed(process.execPath, [TT_AGENT_BIN, '-s'], { ...base, SSH_AUTH_SOCK: sock }),
      node: () => timed(process.execPath, ['-e', ''], base),
      sshAgent: () => {
        const r = timed('ssh-agent', ['-s', '-a', path.join(dir, `ssh-agent-${sshAgents.length}.sock`)], base);
        sshAgents.push(Number(/SSH_AGENT_PID=(\d+);/.exec(r.stdout)![1]));
        return r;
      },
    };
    const times: Record<keyof typeof cases, number[]> = { snippet: [], shell: [], ttAgent: [], node: [], sshAgent: [] };
    for (const run of Object.values(cases)) run(); // page cache
    for (let i = 0; i < runs; i++) {
      for (const [name, run] of Object.entries(cases) as [keyof typeof cases, () => { ms: number }][]) times[name].push(run().ms);
    }
    return {
      snippetMs: median(times.snippet),
      shellMs: median(times.shell),
      ttAgentMs: median(times.ttAgent),
      nodeMs: median(times.node),
      sshAgentMs: median(times.sshAgent),
      runs,
    };
  } finally {
    for (const pid of [agentPid, ...sshAgents]) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone already
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function renderShellStart(t: ShellStartTiming): string[] {
  const f = (v: number) => v.toFixed(1);
  return [
    `- a new shell finding the running agent (medians of ${t.runs}, warm): profile snippet (contrib/profile.sh) ${f(t.snippetMs - t.shellMs)} ms on top of the shell (\`sh -c '. profile.sh'\` ${f(t.snippetMs)} ms, \`sh -c :\` ${f(t.shellMs)} ms); \`tt-agent -s\` ${f(t.ttAgentMs)} ms; \`node -e ''\` ${f(t.nodeMs)} ms; OpenSSH \`ssh-agent -s\` (a new agent) ${f(t.sshAgentMs)} ms`,
  ];
}

if (require.main === module) {
  const runs = Number(process.argv[2] ?? 21);
  process.stdout.write(`${renderShellStart(timeShellStart(process.env, runs)).join('\n')}\n`);
}
