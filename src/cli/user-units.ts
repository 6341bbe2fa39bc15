// The systemd user units of a socket-activated agent, as `tt-agent setup` installs them:
// contrib/tt-agent.socket as it is, contrib/tt-agent.service with ExecStart naming this Node
// and this tt-agent by absolute path (the user manager's PATH rarely holds an npm prefix).
// Files are written only when their content changes, and removed only when setup wrote them.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const CONTRIB = resolve(__dirname, '..', '..', 'contrib');
const BIN = resolve(__dirname, '..', '..', 'bin', 'tt-agent');
export const UNITS = ['tt-agent.socket', 'tt-agent.service'] as const;
const MARK = '# Written by `tt-agent setup`; `tt-agent setup --uninstall` removes it.';
const WANTS = join('sockets.target.wants', 'tt-agent.socket');

export type Outcome = 'installed' | 'updated' | 'unchanged' | 'removed' | 'absent' | 'kept';

export function unitDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'systemd', 'user');
}

/** systemd.service(5) quoting for one ExecStart word: specifiers and variables escaped. */
function execWord(p: string): string {
  const s = p.replace(/%/g, '%%').replace(/\$/g, '$$$$').replace(/[\\"]/g, '\\$&');
  return /[\s"'\\]/.test(p) ? `"${s}"` : s;
}

export function renderUnit(name: (typeof UNITS)[number]): string {
  const text = readFileSync(join(CONTRIB, name), 'utf8');
  const body =
    name === 'tt-agent.service'
      ? text.replace(/^ExecStart=.*$/m, `ExecStart=${execWord(process.execPath)} ${execWord(realpathSync(BIN))} -D`)
      : text;
  return `${MARK}\n${body}`;
}

export function writeUnit(dir: string, name: (typeof UNITS)[number]): Outcome {
  const file = join(dir, name);
  const want = renderUnit(name);
  const have = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (have === want) return 'unchanged';
  if (have !== undefined && !have.startsWith(MARK)) return 'kept';
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, want, { mode: 0o644 });
  renameSync(tmp, file);
  return have === undefined ? 'installed' : 'updated';
}

export function removeUnit(dir: string, name: string): Outcome {
  const file = join(dir, name);
  if (!existsSync(file)) return 'absent';
  if (!readFileSync(file, 'utf8').startsWith(MARK)) return 'kept';
  rmSync(file);
  return 'removed';
}

/** What `systemctl --user enable tt-agent.socket` makes: sockets.target wants the socket. */
export function enableLink(dir: string): Outcome {
  const link = join(dir, WANTS);
  const target = join(dir, 'tt-agent.socket');
  if (lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink() && readlinkSync(link) === target) return 'unchanged';
  mkdirSync(join(dir, 'sockets.target.wants'), { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(target, link);
  return 'installed';
}

export function disableLink(dir: string): Outcome {
  const link = join(dir, WANTS);
  if (!lstatSync(link, { throwIfNoEntry: false })) return 'absent';
  rmSync(link, { force: true });
  return 'removed';
}

/** `systemctl --user ARGS`, or why the user manager cannot be reached (none in a container, say). */
export function userSystemctl(args: string[]): { ok: boolean; why: string } {
  const r = spawnSync('systemctl', ['--user', ...args], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { ok: false, why: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'systemctl is not installed' : r.error.message };
  return { ok: r.status === 0, why: (r.stderr || r.stdout).trim().split('\n')[0] ?? '' };
}

export function userManagerRunning(): { ok: boolean; why: string } {
  return userSystemctl(['show', '--property=Version']);
}
