// `npm run soak`: 64 clients × 1,000 signatures (SOAK_CLIENTS, SOAK_SIGNATURES) with file and
// token keys, mixed with add / remove / lock / unlock. Prints progress and a JSON summary
// (also to SOAK_RESULT when set); exits 1 on a wrong answer, a leak or a dead agent.
import * as fs from 'node:fs';
import { runSoak } from './soak';

runSoak({
  clients: Number(process.env.SOAK_CLIENTS ?? 64),
  signaturesPerClient: Number(process.env.SOAK_SIGNATURES ?? 1000),
  progress: (line) => process.stderr.write(`soak: ${line}\n`),
}).then(
  (r) => {
    const json = JSON.stringify(r, null, 2);
    process.stdout.write(`${json}\n`);
    if (process.env.SOAK_RESULT) fs.writeFileSync(process.env.SOAK_RESULT, `${json}\n`);
    process.stderr.write(r.failures.length ? `soak: FAILED: ${r.failures.join('; ')}\n` : `soak: ${r.signatures.verified} verified, ${r.signatures.failed} refused, 0 wrong in ${r.seconds} s\n`);
    process.exit(r.failures.length ? 1 : 0);
  },
  (err) => {
    process.stderr.write(`soak: ${(err as Error).stack ?? err}\n`);
    process.exit(2);
  },
);
