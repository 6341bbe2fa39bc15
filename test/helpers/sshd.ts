// The real OpenSSH server on 127.0.0.1, as the judge of agent signatures: its own host key,
// sshd_config and authorized_keys in a temp dir, a free port, running as the current user.
// Reusable by every suite that needs `ssh` to log in through an agent.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { nearVpcdPort } from './ports';

export interface Sshd {
  port: number;
  dir: string;
  /** `ssh-ed25519 AAAA...` of the server's host key. */
  hostKeyPub: string;
  knownHostsFile: string;
  authorizedKeysFile: string;
  /** Replaces authorized_keys (sshd reads it on every login). */
  setAuthorizedKeys(lines: string[]): void;
  /** Everything sshd wrote to stderr so far (LogLevel VERBOSE). */
  log(): string;
  stop(): Promise<void>;
}

export interface StartSshdOptions {
  authorizedKeys?: string[];
  /** Extra sshd_config lines, e.g. `PubkeyAcceptedAlgorithms rsa-sha2-512`. */
  config?: string[];
  /** Certifies the new host key (given its .pub path) and returns the certificate path: sshd presents it. */
  hostCertificate?: (hostKeyPubPath: string) => string;
}

/** A port the kernel says is free now; never the emulated card's reader port or next to it. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await askFreePort();
    if (!nearVpcdPort(port)) return port;
  }
}

function askFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startSshd(opts: StartSshdOptions = {}): Promise<Sshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-sshd-'));
  const hostKey = path.join(dir, 'host_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test-host', '-f', hostKey]);
  const hostKeyPub = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const hostCert = opts.hostCertificate?.(`${hostKey}.pub`);
  const authorizedKeysFile = path.join(dir, 'authorized_keys');
  fs.writeFileSync(authorizedKeysFile, (opts.authorizedKeys ?? []).map((l) => `${l}\n`).join(''));
  // Root's sshd insists on its privilege-separation directory even with a private config.
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const knownHostsFile = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostKeyPub}\n`);
    const configFile = path.join(dir, 'sshd_config');
    fs.writeFileSync(
      configFile,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        ...(hostCert ? [`HostCertificate ${hostCert}`] : []),
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorizedKeysFile}`,
        'PermitRootLogin yes',
        'StrictModes no',
        'UsePAM no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'AllowAgentForwarding yes',
        // Lets tests offer SHA-1 RSA signatures on purpose; clients still choose what they offer.
        'PubkeyAcceptedAlgorithms +ssh-rsa',
        'LogLevel VERBOSE',
        ...(opts.config ?? []),
        '',
      ].join('\n'),
    );
    const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => (log += s));
    const ok = await waitFor(child, () => log.includes(`Server listening on 127.0.0.1 port ${port}`), 10_000);
    if (!ok) {
      lastError = new Error(`sshd did not start on port ${port}:\n${log}`);
      child.kill('SIGKILL');
      continue;
    }
    return {
      port,
      dir,
      hostKeyPub,
      knownHostsFile,
      authorizedKeysFile,
      setAuthorizedKeys: (lines) => fs.writeFileSync(authorizedKeysFile, lines.map((l) => `${l}\n`).join('')),
      log: () => log,
      stop: async () => {
        await killAndWait(child);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

async function waitFor(child: ChildProcess, done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (done()) return true;
    if (child.exitCode !== null || child.signalCode !== null) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

export async function killAndWait(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with a deadline; never throws on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs ?? 30_000} ms]`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that exits before reading its input (ssh refusing at once) closes the pipe:
    // that EPIPE is the command's business, reported through its exit status.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

export interface SshLoginOptions {
  agentSock: string;
  /** Offer only the key in this public-key file (IdentitiesOnly). */
  identityFile?: string;
  /** e.g. 'rsa-sha2-512': the client then asks the agent for exactly that signature. */
  pubkeyAlgorithms?: string;
  forwardAgent?: boolean;
  /** Remote command; default `true`. */
  command?: string;
  extraOptions?: string[];
  timeoutMs?: number;
}

/** The argv for `ssh` to this sshd; exported so nested hops can reuse it in a remote command. */
export function sshArgs(sshd: Sshd, o: Omit<SshLoginOptions, 'agentSock' | 'timeoutMs'> & { agentSock?: string }): string[] {
  const args = ['-F', 'none'];
  if (o.agentSock !== undefined) args.push('-o', `IdentityAgent=${o.agentSock}`);
  args.push(
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${sshd.knownHostsFile}`,
    '-o', 'PasswordAuthentication=no',
    '-o', 'KbdInteractiveAuthentication=no',
  );
  if (o.identityFile) args.push('-o', 'IdentitiesOnly=yes', '-o', `IdentityFile=${o.identityFile}`);
  if (o.pubkeyAlgorithms) args.push('-o', `PubkeyAcceptedAlgorithms=${o.pubkeyAlgorithms}`);
  if (o.forwardAgent) args.push('-A');
  args.push(...(o.extraOptions ?? []), '-p', String(sshd.port), '-l', os.userInfo().username, '127.0.0.1');
  args.push(o.command ?? 'true');
  return args;
}

export function sshLogin(sshd: Sshd, o: SshLoginOptions): Promise<RunResult> {
  return run('ssh', sshArgs(sshd, o), { timeoutMs: o.timeoutMs ?? 30_000 });
}
