// Starting a module host (this same Node, running host/main, with the channel on fd 3), and stopping it.
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

/**
 * Asks the host to close (it answers after C_Finalize, then exits) and waits for the exit;
 * a host that has not gone within 2 s is killed.
 */
export async function stopHostProcess(child: HostProcess['child'], askClose: () => Promise<unknown>, gone: () => boolean): Promise<void> {
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const grace = delay(2000);
  try {
    await Promise.race([askClose().then(() => exited), exited, grace.promise]);
  } catch {
    // The host may exit before it answers; that is the point.
  }
  grace.cancel();
  if (!gone()) {
    child.kill('SIGKILL');
    const last = delay(2000);
    await Promise.race([exited, last.promise]);
    last.cancel();
  }
}

/** A timer that keeps the process alive: close() must finish even when nothing else is pending. */
function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}
