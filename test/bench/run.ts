// `npm run bench`: issue 7's benchmark in one run. One fresh SoftHSM token with an RSA-2048,
// a P-256, a P-384 and an Ed25519 key; raw C_Sign, OpenSSH's ssh-agent and tt-agent signing
// with them at several concurrencies; memory and start-up of tt-agent. Prints a markdown
// report and saves it as test/bench/results/YYYY-MM-DD.md. Knobs: see config.ts.
// Exits non-zero when any signature failed to verify or a measurement could not run.
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { SSH_AGENT_RSA_SHA2_256 } from '../../src/protocol/signature';
import { makeToken, type KeySpec } from '../helpers/softhsm';
import { startInlineAgent, startOpenSsh, startTtAgent, type BenchAgent } from './agents';
import { measureClassification } from './classify';
import type { ClientJob, ClientResult } from './client';
import { readConfig, type BenchConfig } from './config';
import { processMemory, treeCpuSeconds, treeMemory, type ProcessMemory } from './proc';
import type { RawJob, RawResult } from './raw';
import { emptyCell, judgeGoals, renderReport, type BenchResults, type CellRounds } from './report';
import { timeShellStart } from './shell-start';
import { timeColdStart, timeEval } from './startup';

const BENCH_KEYS: KeySpec[] = [
  { kind: 'rsa:2048', id: '01', label: 'rsa2048' },
  { kind: 'ec:prime256v1', id: '02', label: 'p256' },
  { kind: 'ec:secp384r1', id: '03', label: 'p384' },
  { kind: 'ed25519', id: '04', label: 'ed25519' },
];
const KEY_TYPE: Record<string, string> = {
  rsa2048: 'ssh-rsa',
  p256: 'ecdsa-sha2-nistp256',
  p384: 'ecdsa-sha2-nistp384',
  ed25519: 'ssh-ed25519',
};
// rsa-sha2-256 for RSA: what current ssh clients ask for.
const flagsFor = (key: string) => (key === 'rsa2048' ? SSH_AGENT_RSA_SHA2_256 : 0);
const WARMUP = 3;

/** A forked helper answering one IPC message with one reply. */
class Worker {
  private queue: Array<(m: { ok: boolean; result?: unknown; error?: string }) => void> = [];
  readonly ready: Promise<unknown>;
  constructor(readonly child: ChildProcess) {
    let readyResolve: (v: unknown) => void;
    this.ready = new Promise((r) => (readyResolve = r));
    child.on('message', (m: { ready?: boolean; ok: boolean }) => {
      if (m.ready || (!('ok' in m) && this.queue.length === 0)) return readyResolve(m);
      this.queue.shift()?.(m);
    });
    child.on('exit', (code) => {
      for (const q of this.queue.splice(0)) q({ ok: false, error: `helper exited (${code})` });
    });
  }
  ask<T>(msg: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      this.queue.push((m) => (m.ok ? resolve(m.result as T) : reject(new Error(m.error))));
      this.child.send(msg as object);
    });
  }
  stop(): void {
    if (this.child.connected) this.child.disconnect();
  }
}

/** RSS and PSS of a node process that has loaded nothing (`node -e` waiting on a timer). */
async function measureBareNode(): Promise<ProcessMemory> {
  const child = spawn(process.execPath, ['-e', "process.stdout.write('ready\\n'); setInterval(() => {}, 1 << 30)"], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`bare node exited (${code})`)));
    });
    return processMemory(child.pid!, 'bare node');
  } finally {
    child.kill();
  }
}

function forkHelper(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return fork(path.join(__dirname, file), args, { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function machine(): string {
  const cpu = os.cpus();
  const version = (cmd: string, args: string[]) => {
    // ssh -V prints to stderr
    const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] || 'unknown';
  };
  return `${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, Linux ${os.release()}, Node ${process.version}, ${version('ssh', ['-V'])}, SoftHSM ${version('softhsm2-util', ['--version'])}.`;
}

async function calibrate(cfg: BenchConfig, client: Worker, dir: string): Promise<BenchResults['calibration']> {
  const sock = path.join(dir, 'echo.sock');
  const echo = new Worker(forkHelper('echo-agent.ts', [sock]));
  try {
    const { blob, payload } = (await echo.ready) as { blob: string; payload: string };
    const out: BenchResults['calibration'] = [];
    for (const concurrency of [1, cfg.concurrency[cfg.concurrency.length - 1]]) {
      const r = await client.ask<ClientResult>({ socket: sock, blob, flags: 0, concurrency, seconds: cfg.seconds, warmup: WARMUP, fixedPayload: payload } satisfies ClientJob);
      if (r.bad) throw new Error(`calibration: ${r.firstError}`);
      out.push({ concurrency, rate: r.rate, clientCpuUs: (r.clientCpuMs * 1e3) / r.signatures });
    }
    return out;
  } finally {
    echo.stop();
  }
}

function recordClient(cell: CellRounds, r: ClientResult, agentCpuSeconds: number): void {
  cell.rates.push(r.rate);
  cell.p50us.push(r.p50us);
  cell.p99us.push(r.p99us);
  const all = r.verified + r.bad;
  cell.agentCpuUs.push((agentCpuSeconds * 1e6) / all);
  cell.clientCpuUs.push((r.clientCpuMs * 1e3) / r.signatures);
  cell.signatures += all;
  cell.verified += r.verified;
  cell.bad += r.bad;
}

async function main(): Promise<number> {
  const cfg = readConfig();
  const loadBefore = os.loadavg();
  const started = Date.now();
  const say = (s: string) => process.stderr.write(`bench: ${s}\n`);
  const token = makeToken({ tokens: [{ label: 'bench', keys: BENCH_KEYS }], setEnv: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-bench-'));
  const setup = { dir, env: token.env, module: token.module, pin: token.pin };
  const helpers: Worker[] = [];
  const agents: BenchAgent[] = [];
  const notes: string[] = [];
  try {
    const client = new Worker(forkHelper('client.ts', []));
    helpers.push(client);
    say('calibrating the load generator against a canned responder');
    const calibration = await calibrate(cfg, client, dir);

    say('key-use classification, in-process');
    const classify = measureClassification(dir, cfg.smoke ? 200 : 2000);
    const us = (n: number) => `${n.toFixed(1)} µs`;
    notes.push(
      `key-use classification and use log, CPU time per signature (in-process, known_hosts of 301 lines, median of 5 batches): ` +
        `ssh-login ${us(classify.perUse['ssh-login'])}, sshsig ${us(classify.perUse.sshsig)}, other ${us(classify.perUse.other)}; ` +
        `the requester's /proc parent chain, read once per connection: ${us(classify.requesterChainUs)}.`,
    );

    say('starting OpenSSH ssh-agent and tt-agent, adding the token to each with ssh-add -s');
    const openssh = await startOpenSsh(setup);
    agents.push(openssh);
    const tt = await startTtAgent(setup);
    agents.push(tt);
    const inline = process.env.BENCH_INLINE === '1' ? await startInlineAgent(setup) : undefined;
    if (inline) agents.push(inline);
    const blobOf = (a: BenchAgent, key: string) => a.keys.find((k) => k.type === KEY_TYPE[key])?.blob;
    for (const key of cfg.keys) {
      if (!blobOf(tt, key)) throw new Error(`tt-agent did not load the ${key} key (it lists ${tt.keys.map((k) => k.type).join(', ')})`);
      if (!blobOf(openssh, key)) notes.push(`OpenSSH ssh-agent did not offer the ${key} key from the token (ssh-add -s loads no such keys in this version), so its cells are n/a.`);
    }

    const results: BenchResults = {
      date: new Date().toISOString().slice(0, 10),
      machine: machine(),
      loadBefore,
      loadAfter: [],
      rounds: cfg.rounds,
      seconds: cfg.seconds,
      concurrency: cfg.concurrency,
      rawSessions: cfg.rawSessions,
      keys: cfg.keys,
      smoke: cfg.smoke,
      raw: {},
      agents: inline ? { OpenSSH: {}, 'tt-agent': {}, 'tt-agent, module in-process': {} } : { OpenSSH: {}, 'tt-agent': {} },
      calibration,
      notes,
    };

    // Memory first, while the agent has signed nothing yet.
    const memoryJob = async (total: number) => {
      const per = Math.ceil(total / cfg.keys.length);
      for (const key of cfg.keys) {
        const r = await client.ask<ClientResult>({ socket: tt.sock, blob: blobOf(tt, key)!.toString('base64'), flags: flagsFor(key), concurrency: 4, seconds: 0, warmup: 1, total: per } satisfies ClientJob);
        if (r.bad) throw new Error(`memory run, ${key}: ${r.firstError}`);
      }
    };
    say('memory: idle, then two batches of signatures');
    await new Promise((r) => setTimeout(r, 500));
    const idle = treeMemory(tt.pid);
    await memoryJob(cfg.memorySignatures);
    const after = treeMemory(tt.pid);
    await memoryJob(cfg.memorySignatures);
    const after2 = treeMemory(tt.pid);
    // References measured in the same moment: PSS depends on every other node process running.
    const bareNode = await measureBareNode();
    const openSshTree = treeMemory(openssh.pid);
    results.memory = { idle, after, after2, signatures: cfg.memorySignatures, bareNode, openSsh: openSshTree };

    // Every agent signs a little with every key before the rounds: first-use costs (JIT, the
    // host learning how fast a key signs) are not what the rounds should measure.
    for (const agent of agents) {
      for (const key of cfg.keys) {
        const keyBlob = blobOf(agent, key);
        if (keyBlob) await client.ask<ClientResult>({ socket: agent.sock, blob: keyBlob.toString('base64'), flags: flagsFor(key), concurrency: 4, seconds: cfg.smoke ? 0.05 : 0.3, warmup: WARMUP } satisfies ClientJob);
      }
    }

    say(`raw C_Sign helper with ${cfg.rawSessions} sessions`);
    const raw = new Worker(forkHelper('raw.ts', [token.module, token.pin, String(cfg.rawSessions)], { ...token.env, UV_THREADPOOL_SIZE: String(cfg.rawSessions) }));
    helpers.push(raw);
    await raw.ready;

    for (let round = 0; round < cfg.rounds; round++) {
      say(`round ${round + 1} of ${cfg.rounds}`);
      for (const key of cfg.keys) {
        const blob = blobOf(tt, key)!.toString('base64');
        const rawCells = (results.raw[key] ??= { one: emptyCell(), several: emptyCell() });
        for (const mode of ['one', 'several'] as const) {
          const r = await raw.ask<RawResult>({ blob, flags: flagsFor(key), mode, sessions: cfg.rawSessions, seconds: cfg.seconds } satisfies RawJob);
          const cell = rawCells[mode];
          cell.rates.push(r.rate);
          cell.signatures += r.signatures;
          cell.verified += r.verified;
          cell.bad += r.bad;
        }
        for (const [ci, concurrency] of cfg.concurrency.entries()) {
          const order = (round + ci) % 2 ? [openssh, tt] : [tt, openssh];
          if (inline) order.push(inline);
          for (const agent of order) {
            const keyBlob = blobOf(agent, key);
            const byKey = (results.agents[agent.name]![key] ??= {});
            if (!keyBlob) continue;
            const cell = (byKey[concurrency] ??= emptyCell());
            const cpu0 = treeCpuSeconds(agent.pid);
            const r = await client.ask<ClientResult>({ socket: agent.sock, blob: keyBlob.toString('base64'), flags: flagsFor(key), concurrency, seconds: cfg.seconds, warmup: WARMUP } satisfies ClientJob);
            recordClient(cell, r, treeCpuSeconds(agent.pid) - cpu0);
            if (r.bad) say(`${agent.name} ${key} C=${concurrency}: ${r.bad} bad signatures (${r.firstError})`);
          }
        }
      }
    }

    say('start-up: eval $(tt-agent) with the agent running, and cold starts');
    results.evalTiming = timeEval(tt.sock, cleanNodeEnv(), cfg.startupRuns);
    say('shell start: the profile snippet, tt-agent -s, node -e, ssh-agent -s');
    results.shellStart = timeShellStart(cleanNodeEnv(), cfg.smoke ? 2 : cfg.startupRuns);
    const coldRuns = cfg.smoke ? 1 : 5;
    results.coldStart = {
      ttAgentMs: await timeColdStart(dir, cleanNodeEnv(), coldRuns, 'tt-agent'),
      openSshMs: await timeColdStart(dir, cleanNodeEnv(), coldRuns, 'OpenSSH'),
    };
    results.loadAfter = os.loadavg();
    notes.push(`whole run took ${Math.round((Date.now() - started) / 1000)} s.`);

    const report = renderReport(results);
    process.stdout.write(report);
    if (cfg.outDir) {
      fs.mkdirSync(cfg.outDir, { recursive: true });
      const file = uniqueName(cfg.outDir, results.date);
      fs.writeFileSync(file, report);
      say(`saved ${path.relative(process.cwd(), file)}`);
    }
    // Every signature must have verified; goals are reported, not enforced here.
    const cells = [
      ...Object.values(results.raw).flatMap((r) => [r.one, r.several]),
      ...Object.values(results.agents).flatMap((byKey) => Object.values(byKey).flatMap((byC) => Object.values(byC))),
    ].filter((c): c is CellRounds => c !== undefined);
    const bad = cells.reduce((n, c) => n + c.bad, 0);
    const verified = cells.reduce((n, c) => n + c.verified, 0);
    say(`${verified} signatures verified, ${bad} failed`);
    if (!cfg.smoke) {
      const goals = judgeGoals(results);
      say(`${goals.filter((g) => g.ok).length} of ${goals.length} goals met`);
    }
    return bad === 0 && verified > 0 ? 0 : 1;
  } finally {
    for (const h of helpers) h.stop();
    await Promise.all(agents.map((a) => a.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
    token.cleanup();
  }
}

/** Environment for the timed `node` runs: no NODE_OPTIONS from the bench's own loader. */
function cleanNodeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/** results/DATE.md, or DATE-2.md, DATE-3.md … when that day already has a run. */
function uniqueName(dir: string, date: string): string {
  for (let i = 1; ; i++) {
    const f = path.join(dir, i === 1 ? `${date}.md` : `${date}-${i}.md`);
    if (!fs.existsSync(f)) return f;
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
