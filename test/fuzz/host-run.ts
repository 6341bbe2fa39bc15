// `npm run fuzz:host`: the long module-host channel fuzz run. HOST_FUZZ_FRAMES (default
// 1,000,000), FUZZ_SEED (default: random, printed). Prints progress and a JSON summary (also
// written to FUZZ_RESULT when set); exits 1 on any failure.
import * as fs from 'node:fs';
import { runHostFuzz } from './host-fuzzer';

async function main(): Promise<number> {
  const env = process.env;
  const seed = env.FUZZ_SEED ? Number(env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
  const result = await runHostFuzz({
    frames: Number(env.HOST_FUZZ_FRAMES ?? 1_000_000),
    seed,
    progress: (line) => process.stderr.write(`fuzz:host: ${line}\n`),
  });
  const json = JSON.stringify(result, null, 2);
  process.stdout.write(`${json}\n`);
  if (env.FUZZ_RESULT) fs.writeFileSync(env.FUZZ_RESULT, `${json}\n`);
  if (result.failures.length > 0) {
    process.stderr.write(`fuzz:host: ${result.failures.length} failure(s); repeat with FUZZ_SEED=${seed}\n`);
    return 1;
  }
  process.stderr.write(`fuzz:host: ${result.frames} frames in ${result.seconds} s, no failures (seed ${seed})\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`fuzz:host: ${(err as Error).stack ?? err}\n`);
    process.exit(2);
  },
);
