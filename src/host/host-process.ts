// Starting a module host: this same Node, running host/main, with the channel on fd 3.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';

/** What the provider needs of a host process: its channel, a way to kill it, its exit. */
export interface HostProcess {
  child: Pick<ChildProcess, 'kill' | 'unref' | 'on' | 'once'>;
  stream: Duplex;
}

export function spawnHostProcess(modulePath: string, env: NodeJS.ProcessEnv | undefined): HostProcess {
  // Compiled: dist/host/main.js; under tsx in tests: src/host/main.ts. Same directory and extension as this file.
  const entry = path.join(__dirname, `main${path.extname(__filename)}`);
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--test') && !a.startsWith('--inspect'));
  // A host's live heap is tiny (a frame in, a signature out), but under a signing load V8
  // grows the young generation towards 16 MB semi-spaces and keeps the pages: RSS rises in
  // steps of several MB. 1 MB semi-spaces keep it flat at no measurable cost (test/bench).
  // Given first, so a flag the agent itself was started with still wins.
  const child = spawn(process.execPath, ['--max-semi-space-size=1', ...execArgv, entry, modulePath], {
    // fd 3 is the channel; the host never writes to stdout (the agent's stdout may be `eval`ed).
    stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
    env: env ?? process.env,
  });
  return { child, stream: child.stdio[3] as Duplex };
}
