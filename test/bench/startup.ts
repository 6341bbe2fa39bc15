// Start-up costs: `eval $(tt-agent)` in a shell where an agent already runs (tt-agent finds
// it and prints its environment), next to a bare `node -e ''`; and the time from starting
// an agent to its socket answering a request.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listIdentities } from './agent-wire';
import { TT_AGENT_BIN, cleanEnv } from './agents';
import { median } from './stats';

export interface EvalTiming {
  ttAgentMs: number;
  nodeMs: number;
  ratio: number;
  runs: number;
}

function wallMs(cmd: string, args: string[], env: NodeJS.ProcessEnv): { ms: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

/** Alternates the two commands `runs` times each, after one untimed run of each (page cache). */
export function timeEval(liveSock: string, env: NodeJS.ProcessEnv, runs: number): EvalTiming {
  const ttEnv = { ...cleanEnv(env), SSH_AUTH_SOCK: liveSock };
  const tt = () => wallMs(process.execPath, [TT_AGENT_BIN], ttEnv);
  const node = () => wallMs(process.execPath, ['-e', ''], env);
  const first = tt();
  if (!first.stdout.includes(`SSH_AUTH_SOCK=${liveSock}`)) throw new Error(`tt-agent did not reuse the running agent:\n${first.stdout}`);
  node();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    a.push(tt().ms);
    b.push(node().ms);
  }
  const ttAgentMs = median(a);
  const nodeMs = median(b);
  return { ttAgentMs, nodeMs, ratio: ttAgentMs / nodeMs, runs };
}

/** Milliseconds from spawning `cmd` to its socket answering REQUEST_IDENTITIES; median of `runs`. */
export async function timeColdStart(
  dir: string,
  env: NodeJS.ProcessEnv,
  runs: number,
  which: 'tt-agent' | 'OpenSSH',
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const sock = path.join(dir, `cold-${which}-${i}.sock`);
    const [cmd, args] =
      which === 'tt-agent' ? [process.execPath, [TT_AGENT_BIN, '-D', '-a', sock]] : ['ssh-agent', ['-D', '-a', sock]];
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: cleanEnv(env), stdio: 'ignore' });
    try {
      const until = Date.now() + 20_000;
      for (;;) {
        try {
          await listIdentities(sock);
          break;
        } catch {
          if (Date.now() > until || child.exitCode !== null) throw new Error(`${which} did not start answering on ${sock}`);
          await new Promise((r) => setTimeout(r, 2));
        }
      }
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(sock, { force: true });
    }
  }
  return median(times);
}
