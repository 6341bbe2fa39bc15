// The agent's socket file: a stale one of ours (left by a crashed agent, nobody listening)
// is replaced; a live agent's socket never is, nor anything another uid made or that is not
// a socket (the path may be in a shared directory: ssh-agent -a refuses it too).
import { connect } from 'node:net';
import { lstat, unlink } from 'node:fs/promises';

export class SocketInUseError extends Error {
  constructor(readonly socketPath: string) {
    super(`an agent is already listening on ${socketPath}`);
    this.name = 'SocketInUseError';
  }
}

/** The path holds something the agent did not make: never replaced, never used. */
export class PathTakenError extends Error {
  constructor(
    readonly socketPath: string,
    why: string,
  ) {
    super(why);
    this.name = 'PathTakenError';
  }
}

/** True when something accepts connections on the socket within `timeoutMs`. */
export function socketAnswers(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    const done = (v: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Clears the way for listen(): removes a stale socket, refuses a live one or a non-socket file. */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  let st;
  try {
    st = await lstat(socketPath);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) throw new PathTakenError(socketPath, `${socketPath} exists and is not a socket`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new PathTakenError(socketPath, `${socketPath} belongs to uid ${st.uid}, not to you`);
  if (await socketAnswers(socketPath)) throw new SocketInUseError(socketPath);
  await unlink(socketPath);
}
