// `npm run fuzz`: the long protocol fuzz run. FUZZ_MESSAGES (default 1,000,000), FUZZ_SEED
// (default: random, printed), FUZZ_CONNECTIONS, FUZZ_BATCH. Prints progress and a JSON
// summary (also written to FUZZ_RESULT when set); exits 1 on any failure.
import * as fs from 'node:fs';
import { runFuzz } from './fuzzer';

async function main(): Promise<number> {
  const env = process.env;
  const seed = env.FUZZ_SEED ? Number(env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
  const result = await runFuzz({
    messages: Number(env.FUZZ_MESSAGES ?? 1_000_000),
    seed,
    connections: env.FUZZ_CONNECTIONS ? Number(env.FUZZ_CONNECTIONS) : undefined,
    batch: env.FUZZ_BATCH ? Number(env.FUZZ_BATCH) : undefined,
    progress: (line) => process.stderr.write(`fuzz: ${line}\n`),
  });
  const json = JSON.stringify(result, null, 2);
  process.stdout.write(`${json}\n`);
  if (env.FUZZ_RESULT) fs.writeFileSync(env.FUZZ_RESULT, `${json}\n`);
  if (result.failures.length > 0) {
    process.stderr.write(`fuzz: ${result.failures.length} failure(s); repeat with FUZZ_SEED=${seed}\n`);
    return 1;
  }
  process.stderr.write(`fuzz: ${result.messages} messages in ${result.seconds} s, no failures (seed ${seed})\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`fuzz: ${(err as Error).stack ?? err}\n`);
    process.exit(2);
  },
);
