// Where the agent's socket lives when no -a is given: $XDG_RUNTIME_DIR/tt-agent/agent.sock
// (a fixed place, so a new shell finds the running agent there), else a fresh
// $TMPDIR/tt-agent-XXXXXX/ directory as ssh-agent makes. Either directory is 0700 and ours.
import { lstatSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hinted } from '../hint';

export interface SocketLocation {
  socketPath: string;
  dir: string;
  /** A per-agent directory (TMPDIR case) that the agent removes when it stops. */
  disposableDir: boolean;
}

export class UnsafeDirectoryError extends Error implements Hinted {
  readonly hint = 'Make it yours and private (chmod 700), or remove it, then start again.';
  constructor(
    readonly dir: string,
    why: string,
  ) {
    super(`the agent's directory ${dir} ${why}.`);
    this.name = 'UnsafeDirectoryError';
  }
}

export function defaultSocketLocation(env: NodeJS.ProcessEnv = process.env): SocketLocation {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && isDirectory(runtime)) {
    const dir = join(runtime, 'tt-agent');
    ensurePrivateDir(dir);
    return { socketPath: join(dir, 'agent.sock'), dir, disposableDir: false };
  }
  const dir = mkdtempSync(join(env.TMPDIR || tmpdir(), 'tt-agent-')); // mkdtemp makes it 0700
  return { socketPath: join(dir, 'agent.sock'), dir, disposableDir: true };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Creates `dir` 0700, or checks an existing one is a real directory of ours that nobody else can enter. */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new UnsafeDirectoryError(dir, 'is not a directory (a symlink or file is in the way)');
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new UnsafeDirectoryError(dir, `belongs to uid ${st.uid}, not to you`);
  if ((st.mode & 0o077) !== 0) throw new UnsafeDirectoryError(dir, `is accessible to others (mode ${(st.mode & 0o777).toString(8)})`);
}
