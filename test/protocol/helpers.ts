// Test plumbing for the protocol tests: temp dirs, running OpenSSH tools, a minimal agent
// client over a unix socket, and a recording fake agent that captures what ssh-add sends.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FrameDecoder, frame } from '../../src/protocol/framing';

const run = promisify(execFile);

export function tempDir(prefix = 'tt-proto-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  // A bound for a hung tool, not a wait: ssh-keygen -b 3072 alone took 30 s on a loaded 2-core machine.
  return run(cmd, args, { env: { ...process.env, ...env }, timeout: 180_000 });
}

/** Generates an OpenSSH key pair with ssh-keygen; returns the private key path. */
export async function sshKeygen(dir: string, name: string, type: string, bits?: number, comment = `${name}@test`): Promise<string> {
  const path = join(dir, name);
  const args = ['-q', '-N', '', '-t', type, '-C', comment, '-f', path];
  if (bits) args.push('-b', String(bits));
  await sh('ssh-keygen', args);
  return path;
}

/** One request, one reply, over a fresh connection to an agent socket. */
export async function agentCall(socketPath: string, body: Buffer): Promise<Buffer> {
  const [reply] = await agentCalls(socketPath, [body]);
  return reply;
}

/** Several requests pipelined on one connection; replies in order. */
export function agentCalls(socketPath: string, bodies: Buffer[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    const dec = new FrameDecoder();
    const replies: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('agent did not answer within 10 s'));
    }, 10_000);
    sock.on('connect', () => sock.write(Buffer.concat(bodies.map(frame))));
    sock.on('data', (chunk) => {
      replies.push(...dec.push(chunk));
      if (replies.length >= bodies.length) {
        clearTimeout(timer);
        sock.end();
        resolve(replies);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export interface SshAgent {
  socket: string;
  stop: () => Promise<void>;
  child: ChildProcess;
  log: () => string;
  /** Resolves once the debug log shows `re` (ssh-agent writes it after, or just before, its reply). */
  waitForLog: (re: RegExp) => Promise<void>;
}

/**
 * The real OpenSSH ssh-agent in the foreground on a socket in `dir`, once it accepts
 * connections. The socket file appears at bind(2), before listen(2): a client that connects
 * then gets ECONNREFUSED. ssh-agent -d prints its environment lines to stdout only after
 * listen(2), so that line is the signal.
 */
export async function startSshAgent(dir: string): Promise<SshAgent> {
  const socket = join(dir, 'openssh-agent.sock');
  // -d: foreground with a debug log on stderr, which a failing test prints.
  const child = spawn('ssh-agent', ['-d', '-a', socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  let stdout = '';
  const changed = new EventEmitter();
  child.stderr!.on('data', (c: Buffer) => {
    log += c.toString();
    changed.emit('log');
  });
  child.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString();
    changed.emit('stdout');
  });
  child.on('exit', () => changed.emit('exit'));
  const until = (what: string, done: () => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (done()) finish();
        else if (child.exitCode !== null || child.signalCode !== null) finish(new Error(`ssh-agent exited before ${what}:\n${log}`));
      };
      // A bound on a failure, not a wait: every success path resolves on an event.
      const timer = setTimeout(() => finish(new Error(`ssh-agent: no ${what} within 20 s:\n${log}`)), 20_000);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        for (const e of ['log', 'stdout', 'exit']) changed.off(e, check);
        if (err) reject(err);
        else resolve();
      };
      for (const e of ['log', 'stdout', 'exit']) changed.on(e, check);
      check();
    });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await done;
  };
  try {
    await until('listening socket', () => /echo Agent pid/.test(stdout));
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, stop, child, log: () => log, waitForLog: (re) => until(`log line ${re}`, () => re.test(log)) };
}

export interface Recorder {
  socket: string;
  /** Every request body received, in order. */
  frames: Buffer[];
  close: () => Promise<void>;
}

/**
 * A fake agent that records each request and answers with `reply(body)` (default: SUCCESS),
 * so a test sees byte for byte what a real client such as ssh-add sends.
 */
export async function startRecorder(dir: string, reply: (body: Buffer) => Buffer = () => Buffer.of(6)): Promise<Recorder> {
  const socket = join(dir, `rec-${Math.random().toString(36).slice(2)}.sock`);
  const frames: Buffer[] = [];
  const conns = new Set<Socket>();
  const server: Server = createServer((c) => {
    conns.add(c);
    const dec = new FrameDecoder();
    c.on('data', (chunk) => {
      try {
        for (const body of dec.push(chunk)) {
          frames.push(body);
          c.write(frame(reply(Buffer.from(body))));
        }
      } catch {
        c.destroy();
      }
    });
    c.on('error', () => undefined);
    c.on('close', () => conns.delete(c));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    frames,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An SSH_ASKPASS script that prints `answer`, for ssh-add prompts without a tty. */
export function askpassScript(dir: string, answer: string): NodeJS.ProcessEnv {
  const path = join(dir, `askpass-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' '${answer.replace(/'/g, `'\\''`)}'\n`);
  chmodSync(path, 0o700);
  return { SSH_ASKPASS: path, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
}
