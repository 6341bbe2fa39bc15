// Runs the compiled CLI (bin/tt-agent → dist/) the way a user does; shared by the pubkey
// and list tests. `npm test` builds first; after editing src/, run `npx tsc -p .` before
// running these files alone.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const BIN = path.resolve(__dirname, '../../bin/tt-agent');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The user-facing contract for failures: "tt-agent: what" + "  what next", no stack trace. */
export function assertOneLineError(r: CliResult, pattern: RegExp): void {
  const lines = r.stderr.trimEnd().split('\n');
  if (r.status === 0 || r.status === null) throw new Error(`expected failure, got status ${r.status}: ${r.stderr}`);
  if (!/^tt-agent: /.test(lines[0]) || !pattern.test(lines[0])) {
    throw new Error(`first line ${JSON.stringify(lines[0])} does not match ${pattern}`);
  }
  if (lines.length !== 2 || !/^ {2}\S/.test(lines[1])) throw new Error(`expected a one-line hint, got: ${r.stderr}`);
  if (/\n\s+at /.test(r.stderr)) throw new Error(`stack trace shown without --debug: ${r.stderr}`);
}
