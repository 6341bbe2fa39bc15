// Runs the tt-agent CLI from source (node --import tsx test/pin/cli-run.ts ARGS...).
import { main } from '../../src/cli/main';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exitCode = 70;
  },
);
