// A private mount namespace for fixtures whose software reads fixed system paths: opencryptoki
// (/etc/opencryptoki, /var/lib/opencryptoki, /run/pkcsslotd.socket) and p11-kit (which ignores
// the user's config when running as root, so a private config must sit at the system path).
// A holder process keeps the namespace alive; commands enter it with nsenter. Nothing outside
// the namespace sees the mounts, and they vanish with its last process.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

export interface MountNamespace {
  /** the holder process; its /proc/PID/ns/mnt is the namespace */
  pid: number;
  /** argv that runs `cmd args` inside the namespace */
  wrap(cmd: string, args: string[]): [string, string[]];
  /** runs a command inside the namespace and returns its stdout (throws on failure) */
  exec(cmd: string, args: string[], opts?: { env?: NodeJS.ProcessEnv; input?: string }): string;
  close(): Promise<void>;
}

export interface MountSpec {
  /** target path → directory bound over it (targets that do not exist are skipped: nothing to hide) */
  binds?: Record<string, string>;
  /** fresh empty tmpfs mounts, e.g. /run and /dev/shm */
  tmpfs?: string[];
}

/** Why a namespace cannot be made here (not root, no unshare), or false. */
export function mountNsSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'private mount namespaces need root (unshare -m)';
  try {
    execFileSync('unshare', ['-m', '--propagation', 'private', 'true'], { stdio: 'pipe' });
    return false;
  } catch (err) {
    return `unshare -m fails here: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
}

export async function privateMounts(spec: MountSpec): Promise<MountNamespace> {
  const lines: string[] = ['set -e'];
  for (const t of spec.tmpfs ?? []) lines.push(`mount -t tmpfs -o mode=0755 tmpfs ${q(t)}`);
  for (const [target, source] of Object.entries(spec.binds ?? {})) {
    if (fs.existsSync(target)) lines.push(`mount --bind ${q(source)} ${q(target)}`);
  }
  // The holder reports readiness, then waits for its stdin to close (the test process exiting
  // closes it too, so a forgotten namespace does not outlive the test).
  lines.push('echo ready', 'exec cat >/dev/null');
  const child: ChildProcess = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', lines.join('\n')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`mount namespace setup failed (exit ${code}): ${err}`)));
  });
  const pid = child.pid!;
  const wrap = (cmd: string, args: string[]): [string, string[]] => ['nsenter', ['-t', String(pid), '-m', '--', cmd, ...args]];
  return {
    pid,
    wrap,
    exec(cmd, args, opts = {}) {
      const [c, a] = wrap(cmd, args);
      return execFileSync(c, a, { env: opts.env ?? process.env, input: opts.input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
