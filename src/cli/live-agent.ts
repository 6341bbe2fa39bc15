// Is there an agent of ours at this path? Asked of the kernel, never of the agent: the
// socket file must be a socket we own (lstat), and the process listening on it must run as
// us (SO_PEERCRED on our connected end, which names whoever called listen()). Only then is
// the status@tt-agent reply read, and only to learn that a tt-agent answers; the pid we
// print is the kernel's. A path in a shared directory (-a /tmp/x) may hold anyone's socket.
import { lstatSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { FrameDecoder, frame } from '../protocol/framing';
import { SshReader, SshWriter } from '../protocol/wire';

const SSH_AGENTC_EXTENSION = 27;
const SSH_AGENT_EXTENSION_RESPONSE = 29;
const STATUS_EXTENSION = 'status@tt-agent';

export interface PeerCred {
  uid: number;
  pid: number;
}

export type Probe =
  /** Nothing at the path. */
  | { kind: 'absent' }
  /** Our own socket file with nobody listening (a crashed agent's). */
  | { kind: 'stale' }
  /** Something we must not use: another uid's file or listener, not a socket, no answer. */
  | { kind: 'foreign'; why: string }
  | { kind: 'live'; live: LiveAgent };

export interface LiveAgent {
  socketPath: string;
  /** Listener's credentials from the kernel; undefined only without the native addon (private directory). */
  peer?: PeerCred;
  /** The agent's pid when the listener is the agent itself (not systemd holding the socket). */
  pid?: number;
  /** It answered status@tt-agent. */
  ttAgent: boolean;
}

const ownUid = (): number => process.getuid?.() ?? 0;

/** Checks the path and the listener; connects at most once. */
export async function probeAgentSocket(socketPath: string, timeoutMs = 2000): Promise<Probe> {
  const file = checkSocketFile(socketPath);
  if (file) return file;
  let socket: Socket;
  try {
    socket = await connectOnce(socketPath, timeoutMs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return { kind: 'stale' };
    if (code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'foreign', why: `${socketPath} does not accept a connection (${code ?? (err as Error).message})` };
  }
  try {
    let peer: PeerCred | undefined;
    try {
      peer = listenerCred(socket, socketPath);
    } catch (err) {
      return { kind: 'foreign', why: (err as Error).message };
    }
    if (peer && peer.uid !== ownUid()) {
      return { kind: 'foreign', why: `the process listening on ${socketPath} runs as uid ${peer.uid} (pid ${peer.pid}), not as you` };
    }
    // A file swapped between lstat and connect would show here.
    const again = checkSocketFile(socketPath);
    if (again) return again.kind === 'foreign' ? again : { kind: 'foreign', why: `${socketPath} changed while it was checked` };
    const status = await askStatus(socket, timeoutMs);
    const reported = typeof status?.pid === 'number' ? status.pid : undefined;
    const pid = peer ? (reported === peer.pid ? peer.pid : undefined) : reported;
    return { kind: 'live', live: { socketPath, peer, pid, ttAgent: status !== null } };
  } finally {
    socket.destroy();
  }
}

/** lstat: a socket of ours, or the reason it cannot be used (undefined: go on). */
function checkSocketFile(socketPath: string): Probe | undefined {
  let st;
  try {
    st = lstatSync(socketPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'foreign', why: `${socketPath} cannot be checked (${code})` };
  }
  if (!st.isSocket()) return { kind: 'foreign', why: `${socketPath} is not a socket${st.isSymbolicLink() ? ' (a symbolic link)' : ''}` };
  if (st.uid !== ownUid()) return { kind: 'foreign', why: `${socketPath} belongs to uid ${st.uid}, not to you` };
  return undefined;
}

function connectOnce(socketPath: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    const timer = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * SO_PEERCRED of our end. Without the native addon there is no kernel answer; that is
 * accepted only when the socket's directory is ours and closed to others (nobody else could
 * have bound there), as the agent itself accepts it.
 */
function listenerCred(socket: Socket, path: string): PeerCred | undefined {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const native = require('../native') as typeof import('../native');
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (native.nativeAvailable() && typeof fd === 'number' && fd >= 0) {
    const { uid, pid } = native.peerCred(fd);
    return { uid, pid };
  }
  const dir = lstatSync(dirname(path), { throwIfNoEntry: false });
  if (dir?.isDirectory() && dir.uid === ownUid() && (dir.mode & 0o077) === 0) return undefined;
  throw new Error(
    `cannot tell who listens on ${path}: the native addon is not built (npm run build:native) and the directory is open to others`,
  );
}

/** The status@tt-agent JSON, or null when the listener does not answer it in time. */
function askStatus(socket: Socket, timeoutMs: number): Promise<{ pid?: unknown } | null> {
  return new Promise((resolve) => {
    const decoder = new FrameDecoder();
    const done = (v: { pid?: unknown } | null) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      try {
        const [body] = decoder.push(chunk);
        if (!body) return;
        const r = new SshReader(body);
        if (r.uint8() !== SSH_AGENT_EXTENSION_RESPONSE || r.stringUtf8() !== STATUS_EXTENSION) return done(null);
        const json = JSON.parse(r.stringUtf8()) as unknown;
        done(json !== null && typeof json === 'object' ? (json as { pid?: unknown }) : {});
      } catch {
        done(null);
      }
    });
    socket.once('error', () => done(null));
    socket.once('close', () => done(null));
    socket.write(frame(new SshWriter().uint8(SSH_AGENTC_EXTENSION).string(STATUS_EXTENSION).toBuffer()));
  });
}

/**
 * The agent at the fixed $XDG_RUNTIME_DIR/tt-agent/agent.sock, for commands run where
 * SSH_AUTH_SOCK is not set: its path when a listener of ours answers there, else undefined
 * (with the reason when something else is in the way).
 */
export async function defaultAgentSocket(env: NodeJS.ProcessEnv = process.env): Promise<{ path?: string; why?: string }> {
  if (!env.XDG_RUNTIME_DIR) return {};
  const path = `${env.XDG_RUNTIME_DIR}/tt-agent/agent.sock`;
  const p = await probeAgentSocket(path);
  if (p.kind === 'live') return { path };
  return p.kind === 'foreign' ? { why: p.why } : {};
}
