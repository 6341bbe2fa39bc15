// Shared pieces of the hardening tests: the C fixtures compiled per test run, a raw agent
// client speaking the wire protocol (so a test sees exactly what the agent answers), running
// programs as another uid with setpriv, and a real session-bind@openssh.com.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodePublicKeyBlob, encodePublicKeyBlob } from '../../src/protocol/key-blob';
import type { PublicKey } from '../../src/protocol/public-key';
import { SshReader, SshWriter } from '../../src/protocol/wire';
import { REPO_ROOT, TT_AGENT_BIN, connects, waitForLogText } from '../helpers/agent';
import { killAndWait } from '../helpers/sshd';

export const NOBODY = 65534;
export const IS_ROOT = process.getuid?.() === 0;
const FIXTURES = path.join(__dirname, '..', 'fixtures');
const P11_HEADERS = '/usr/include/p11-kit-1';

// Agent protocol numbers (draft-miller-ssh-agent), spelled as in the spec.
export const SSH_AGENT_FAILURE = 5;
export const SSH_AGENT_SUCCESS = 6;
export const SSH_AGENTC_REQUEST_IDENTITIES = 11;
export const SSH_AGENT_IDENTITIES_ANSWER = 12;
export const SSH_AGENTC_SIGN_REQUEST = 13;
export const SSH_AGENT_SIGN_RESPONSE = 14;
export const SSH_AGENTC_ADD_SMARTCARD_KEY = 20;
export const SSH_AGENTC_LOCK = 22;
export const SSH_AGENTC_UNLOCK = 23;
export const SSH_AGENTC_EXTENSION = 27;

/** setpriv prefix that runs a command as `uid` with no supplementary groups. */
export function asUser(uid: number, gid = uid): string[] {
  return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'];
}

/** Why the compiled fixtures cannot be built here, or false. */
export function fixturesUnavailable(): string | false {
  if (!fs.existsSync(path.join(P11_HEADERS, 'p11-kit', 'pkcs11.h'))) return 'needs p11-kit pkcs11.h (libp11-kit-dev)';
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'needs a C compiler (cc)';
  }
  return false;
}

/** Compiles test/fixtures/NAME.c into `outDir` as a shared library (.so) or a program. */
export function buildFixture(name: 'broken-pkcs11' | 'rogue-pkcs11' | 'not-pkcs11' | 'ptrace-attach', outDir: string): string {
  const src = path.join(FIXTURES, `${name}.c`);
  const program = name === 'ptrace-attach';
  const out = path.join(outDir, program ? name : `lib${name}.so`);
  const args = program ? ['-O1', '-o', out, src] : ['-shared', '-fPIC', '-O1', '-I', P11_HEADERS, '-o', out, src, '-ldl', '-lpthread'];
  execFileSync('cc', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  fs.chmodSync(out, 0o755);
  return out;
}

/** A temp dir other users can enter (the agent under test may run as nobody). */
export function openTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export const frame = (body: Buffer): Buffer => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length);
  return Buffer.concat([h, body]);
};

/** A raw agent connection that collects framed replies in order. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiting: ((b: Buffer) => void)[] = [];
  private replies: Buffer[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readUInt32BE(0)) {
        const body = this.buf.subarray(4, 4 + this.buf.readUInt32BE(0));
        this.buf = this.buf.subarray(4 + body.length);
        const w = this.waiting.shift();
        if (w) w(body);
        else this.replies.push(body);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => (this.closed = true));
  }

  static connect(sock: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(sock);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  send(body: Buffer): void {
    this.socket.write(frame(body));
  }

  reply(timeoutMs = 10_000): Promise<Buffer> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((b) => {
        clearTimeout(t);
        resolve(b);
      });
    });
  }

  async request(body: Buffer, timeoutMs?: number): Promise<Buffer> {
    this.send(body);
    return this.reply(timeoutMs);
  }

  async identities(): Promise<{ blob: Buffer; publicKey: PublicKey; comment: string }[]> {
    const r = new SshReader(await this.request(Buffer.of(SSH_AGENTC_REQUEST_IDENTITIES)));
    if (r.uint8() !== SSH_AGENT_IDENTITIES_ANSWER) throw new Error('no identities answer');
    const n = r.uint32();
    const out = [];
    for (let i = 0; i < n; i++) {
      const blob = r.string();
      out.push({ blob, publicKey: decodePublicKeyBlob(blob), comment: r.stringUtf8() });
    }
    return out;
  }

  /** SSH_AGENTC_SIGN_REQUEST; the signature blob, or null for SSH_AGENT_FAILURE. */
  async sign(blob: Buffer, data: Buffer, flags = 0, timeoutMs?: number): Promise<Buffer | null> {
    const reply = await this.request(new SshWriter().uint8(SSH_AGENTC_SIGN_REQUEST).string(blob).string(data).uint32(flags).toBuffer(), timeoutMs);
    if (reply[0] === SSH_AGENT_FAILURE) return null;
    const r = new SshReader(reply);
    if (r.uint8() !== SSH_AGENT_SIGN_RESPONSE) throw new Error(`unexpected reply type ${reply[0]}`);
    return r.string();
  }

  async closedWithin(ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!this.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  end(): void {
    this.socket.destroy();
  }
}

/**
 * session-bind@openssh.com as `ssh` sends it (PROTOCOL.agent): the host key, a session id,
 * the host's signature over the session id, and whether the connection is being forwarded.
 * The signature is real, so the agent accepts the bind.
 */
export function sessionBind(isForwarding: boolean): Buffer {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const hostKey = encodePublicKeyBlob({ kind: 'ed25519', key: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url') });
  const sessionId = randomBytes(32);
  const signature = new SshWriter().string('ssh-ed25519').string(sign(null, sessionId, privateKey)).toBuffer();
  return new SshWriter()
    .uint8(SSH_AGENTC_EXTENSION)
    .string('session-bind@openssh.com')
    .string(hostKey)
    .string(sessionId)
    .string(signature)
    .bool(isForwarding)
    .toBuffer();
}

export function addSmartcardKey(readerId: string, pin: string | Buffer): Buffer {
  return new SshWriter().uint8(SSH_AGENTC_ADD_SMARTCARD_KEY).string(readerId).string(pin).toBuffer();
}

/** A tt-agent run in the foreground by hand (e.g. as another uid), with its log. */
export interface ForegroundAgent {
  sock: string;
  pid: number;
  child: ChildProcess;
  log(): string;
  waitForLog(text: string | RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `[prefix...] node bin/tt-agent -d -a SOCK [args]`. `prefix` runs it as another user
 * (asUser(...)); `bin` lets a test run a copy of the package (e.g. one without the addon).
 */
export async function startForeground(opts: {
  sock: string;
  prefix?: string[];
  args?: string[];
  env?: NodeJS.ProcessEnv;
  bin?: string;
  /** Expect it to exit instead of listening: resolves with its log once it has. */
  expectExit?: boolean;
}): Promise<ForegroundAgent> {
  const env = { ...(opts.env ?? process.env) };
  delete env.SSH_AUTH_SOCK;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  const cmd = [...(opts.prefix ?? []), process.execPath, opts.bin ?? TT_AGENT_BIN, '-d', '-a', opts.sock, ...(opts.args ?? [])];
  const child = spawn(cmd[0], cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (log += s));
  child.stdout!.resume();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const agent: ForegroundAgent = {
    sock: opts.sock,
    // The node process itself: setpriv execs, so the pid is the agent's.
    pid: child.pid!,
    child,
    log: () => log,
    waitForLog: (text, timeoutMs) => waitForLogText(() => log, text, timeoutMs),
    stop: () => killAndWait(child),
  };
  if (opts.expectExit) {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    return agent;
  }
  const until = Date.now() + 15_000;
  while (!(await connectsAs(opts.sock))) {
    if (child.exitCode !== null || Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`tt-agent did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  // The socket takes connections a moment before the agent has set its mode (0600): tests that
  // change the mode afterwards must not race that chmod. "listening on" is logged after it.
  await agent.waitForLog('listening on', 15_000);
  return agent;
}

/** Whether the socket file exists and takes connections (root can always connect). */
async function connectsAs(sock: string): Promise<boolean> {
  return fs.existsSync(sock) && (await connects(sock));
}

/**
 * Runs a tiny Node client as `uid` that connects to `sock`, sends SSH_AGENTC_REQUEST_IDENTITIES
 * and prints one line: "connect-error CODE", "answered TYPE" or "closed-without-answer".
 */
export async function probeAs(uid: number, sock: string): Promise<string> {
  const script = `
    const net = require('net');
    const s = net.connect(process.argv[1]);
    let out = null;
    const done = (line) => { if (out === null) { out = line; console.log(line); s.destroy(); } };
    let connected = false;
    s.on('connect', () => { connected = true; s.write(Buffer.from([0, 0, 0, 1, ${SSH_AGENTC_REQUEST_IDENTITIES}])); });
    s.on('data', (d) => done('answered ' + d[4]));
    // After connect, EPIPE / ECONNRESET mean the agent closed on us.
    s.on('error', (e) => done(connected ? 'closed-without-answer' : 'connect-error ' + e.code));
    s.on('close', () => done('closed-without-answer'));
    setTimeout(() => done('timeout'), 5000);`;
  const out = execFileSync(asUser(uid)[0], [...asUser(uid).slice(1), process.execPath, '-e', script, sock], { encoding: 'utf8', timeout: 15_000 });
  return out.trim();
}

export { REPO_ROOT };
