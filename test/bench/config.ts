// What one benchmark run does, from the environment and argv:
//   BENCH_ROUNDS   rounds per cell (default 5; the reported figure is the median of the rounds)
//   BENCH_SECONDS  length of one round in seconds (default 1)
//   BENCH_SMOKE=1 or --smoke: a few seconds end to end, every signature still verified, no goal judged
//   BENCH_OUT      directory for the dated results file (default test/bench/results; smoke writes none)
//   BENCH_KEYS     comma list of key names to run (rsa2048,p256,p384,ed25519; default all)
import * as path from 'node:path';

export interface BenchConfig {
  smoke: boolean;
  rounds: number;
  seconds: number;
  concurrency: number[];
  /** raw C_Sign: how many sessions sign in parallel in the "several sessions" column */
  rawSessions: number;
  /** signatures between the two memory readings */
  memorySignatures: number;
  /** runs of `tt-agent` / `node -e ''` timed for the eval comparison */
  startupRuns: number;
  keys: string[];
  outDir?: string;
}

export const ALL_KEYS = ['rsa2048', 'p256', 'p384', 'ed25519'];

export function readConfig(argv = process.argv.slice(2), env = process.env): BenchConfig {
  const smoke = argv.includes('--smoke') || env.BENCH_SMOKE === '1';
  const num = (name: string, dflt: number) => {
    const v = env[name];
    if (v === undefined || v === '') return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v} is not a positive number`);
    return n;
  };
  const keys = (env.BENCH_KEYS ?? ALL_KEYS.join(',')).split(',').filter((k) => k);
  for (const k of keys) if (!ALL_KEYS.includes(k)) throw new Error(`BENCH_KEYS: unknown key ${k} (known: ${ALL_KEYS.join(', ')})`);
  return {
    smoke,
    rounds: Math.round(num('BENCH_ROUNDS', smoke ? 1 : 5)),
    seconds: num('BENCH_SECONDS', smoke ? 0.25 : 1),
    concurrency: smoke ? [1, 4] : [1, 4, 16],
    rawSessions: Math.round(num('BENCH_RAW_SESSIONS', 4)),
    memorySignatures: Math.round(num('BENCH_MEMORY_SIGNATURES', smoke ? 200 : 10_000)),
    startupRuns: Math.round(num('BENCH_STARTUP_RUNS', smoke ? 2 : 15)),
    keys,
    outDir: smoke && !env.BENCH_OUT ? undefined : (env.BENCH_OUT ?? path.join(__dirname, 'results')),
  };
}
