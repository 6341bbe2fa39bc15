// Before an agent binds `-a PATH`: the directory must exist, and the path must be free or
// hold a dead socket of ours. Anything else fails as `ssh-agent -a` fails (it never replaces
// a path it did not make), with the reason found by lstat and SO_PEERCRED.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { USAGE } from './agent-args';
import { UserError } from './user-error';
import { probeAgentSocket } from './live-agent';

export async function checkSocketPath(socketPath: string): Promise<void> {
  checkDirectory(socketPath);
  const p = await probeAgentSocket(socketPath);
  if (p.kind === 'live') throw alreadyRunning(socketPath, p.live.pid);
  if (p.kind === 'foreign') throw pathTaken(socketPath, p.why);
}

function checkDirectory(socketPath: string): void {
  const dir = dirname(socketPath);
  // Followed if it is a symlink, as ssh-agent follows it: the socket itself is what is checked.
  const st = statSync(dir, { throwIfNoEntry: false });
  if (st?.isDirectory()) return;
  throw new UserError(
    `cannot create the socket ${socketPath}: ${st ? `${dir} is not a directory` : `the directory ${dir} does not exist`}.`,
    `Create it first (mkdir -m 700 ${dir}), or give -a a path in an existing directory.\n${USAGE}`,
    2,
  );
}

export function alreadyRunning(socketPath: string, pid: number | undefined): UserError {
  return new UserError(
    `an agent is already running on ${socketPath}${pid !== undefined ? ` (pid ${pid})` : ''}.`,
    `Use it (SSH_AUTH_SOCK=${socketPath}), stop it first (tt-agent -k in its shell), or choose another path with -a.`,
  );
}

export function pathTaken(socketPath: string, why: string): UserError {
  return new UserError(
    `cannot bind to ${socketPath}: address already in use (${why}).`,
    'Choose another path with -a; tt-agent never uses or replaces a socket it did not make.',
  );
}
