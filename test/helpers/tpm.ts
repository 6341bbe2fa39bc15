// A TPM token for tests: swtpm (a software TPM 2.0) on loopback, tpm2-abrmd on a private D-Bus
// session bus, and a tpm2-pkcs11 store made by tpm2_ptool, all in one temp dir. Processes that
// use the token need `env` (TPM2_PKCS11_STORE, TPM2_PKCS11_TCTI, DBUS_SESSION_BUS_ADDRESS).
// Provisioning (an RSA-2048 key made in the TPM takes seconds) is done once per helper version
// and kept as a template: the swtpm state and the store are copied for every token, which is
// the same TPM with the same keys.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, killAndWait } from './sshd';

export const TPM2_PKCS11_MODULE = '/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so';
const TEMPLATE_VERSION = 1;
const USER_PIN = '123456';
const SO_PIN = '12345678';

export interface TpmToken {
  dir: string;
  module: string;
  label: string;
  pin: string;
  /** environment for every process that uses the token */
  env: NodeJS.ProcessEnv;
  /** the TCTI the module uses: through tpm2-abrmd, or straight to swtpm */
  tcti: string;
  keys: { label: string; type: 'rsa' | 'ec' }[];
  /** tpm2-tools' environment (TPM2TOOLS_TCTI), e.g. for tpm2_getcap handles-transient */
  toolsEnv: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

export function tpmSkipReason(): string | false {
  for (const [file, pkg] of [
    [TPM2_PKCS11_MODULE, 'libtpm2-pkcs11-1'],
    ['/usr/bin/swtpm', 'swtpm'],
    ['/usr/sbin/tpm2-abrmd', 'tpm2-abrmd'],
    ['/usr/bin/tpm2_ptool', 'libtpm2-pkcs11-tools'],
    ['/usr/bin/tpm2_flushcontext', 'tpm2-tools'],
    ['/usr/bin/dbus-daemon', 'dbus-daemon'],
  ] as const) {
    if (!fs.existsSync(file)) return `${file} is missing (package ${pkg}; scripts/install.sh installs it)`;
  }
  if (!fs.readdirSync('/usr/lib/x86_64-linux-gnu').some((f) => f.startsWith('libtss2-tcti-tabrmd.so')))
    return 'the tabrmd TCTI is missing (package libtss2-tcti-tabrmd0)';
  return false;
}

export interface MakeTpmOptions {
  /** 'abrmd' (default): through tpm2-abrmd, as on most desktops; 'direct': the module talks to swtpm itself */
  via?: 'abrmd' | 'direct';
}

export async function makeTpmToken(opts: MakeTpmOptions = {}): Promise<TpmToken> {
  const template = await templateDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-tpm-'));
  fs.cpSync(template, dir, { recursive: true });
  const procs: ChildProcess[] = [];
  const stopAll = async () => {
    for (const p of procs.reverse()) await killAndWait(p);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const tpm = await startTpm(dir, procs, opts.via ?? 'abrmd');
    return {
      dir,
      module: TPM2_PKCS11_MODULE,
      label: 'tt-tpm',
      pin: USER_PIN,
      env: { ...process.env, ...tpm.env },
      tcti: tpm.env.TPM2_PKCS11_TCTI!,
      toolsEnv: { ...process.env, ...tpm.env, TPM2TOOLS_TCTI: tpm.env.TPM2_PKCS11_TCTI },
      keys: [
        { label: 'tpm-rsa2048', type: 'rsa' },
        { label: 'tpm-p256', type: 'ec' },
      ],
      cleanup: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** swtpm on a free loopback port, then (for 'abrmd') a session bus and tpm2-abrmd on it. */
async function startTpm(dir: string, procs: ChildProcess[], via: 'abrmd' | 'direct'): Promise<{ env: Record<string, string> }> {
  // The swtpm TCTI finds the control channel at port + 1.
  const port = await freePortPair();
  const ctrl = port + 1;
  const swtpm = spawn(
    'swtpm',
    ['socket', '--tpm2', '--tpmstate', `dir=${path.join(dir, 'state')}`, '--flags', 'not-need-init,startup-clear',
      '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${ctrl},bindaddr=127.0.0.1`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  procs.push(swtpm);
  await waitFor(() => listening(port), 10_000, 'swtpm', swtpm);
  const swtpmTcti = `swtpm:host=127.0.0.1,port=${port}`;
  const env: Record<string, string> = { TPM2_PKCS11_STORE: path.join(dir, 'store'), TPM2_PKCS11_LOG_LEVEL: '0' };
  if (via === 'direct') return { env: { ...env, TPM2_PKCS11_TCTI: swtpmTcti } };

  const bus = `unix:path=${path.join(dir, 'bus')}`;
  const dbus = spawn('dbus-daemon', ['--session', `--address=${bus}`, '--nofork', '--nopidfile'], { stdio: 'ignore' });
  procs.push(dbus);
  await waitFor(() => fs.existsSync(path.join(dir, 'bus')), 10_000, 'dbus-daemon', dbus);
  const busEnv = { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus };
  // --allow-root: tests run as root; tpm2-abrmd refuses root otherwise.
  const abrmd = spawn('tpm2-abrmd', ['--session', '--allow-root', `--tcti=${swtpmTcti}`], { env: busEnv, stdio: 'ignore' });
  procs.push(abrmd);
  const tcti = 'tabrmd:bus_type=session';
  await waitFor(() => tpmAnswers({ ...busEnv, TPM2TOOLS_TCTI: tcti }), 10_000, 'tpm2-abrmd', abrmd);
  return { env: { ...env, DBUS_SESSION_BUS_ADDRESS: bus, TPM2_PKCS11_TCTI: tcti } };
}

/** A provisioned TPM (swtpm state + tpm2-pkcs11 store), made once and then copied. */
async function templateDir(): Promise<string> {
  const dir = path.join(os.tmpdir(), `tt-tpm-template-v${TEMPLATE_VERSION}`);
  if (fs.existsSync(path.join(dir, 'done'))) return dir;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-tpm-provision-'));
  fs.mkdirSync(path.join(work, 'state'));
  fs.mkdirSync(path.join(work, 'store'));
  const procs: ChildProcess[] = [];
  try {
    // Through tpm2-abrmd: tpm2_ptool runs one tpm2-tools command after another, each leaving its
    // objects loaded; on a bare TPM the third one fails with "out of memory for object contexts".
    const { env } = await startTpm(work, procs, 'abrmd');
    const ptool = (args: string[]) =>
      execFileSync('tpm2_ptool', [...args, `--path=${env.TPM2_PKCS11_STORE}`], {
        env: { ...process.env, ...env, TPM2TOOLS_TCTI: env.TPM2_PKCS11_TCTI },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    ptool(['init']);
    ptool(['addtoken', '--pid=1', '--label=tt-tpm', `--userpin=${USER_PIN}`, `--sopin=${SO_PIN}`]);
    ptool(['addkey', '--label=tt-tpm', '--key-label=tpm-rsa2048', `--userpin=${USER_PIN}`, '--algorithm=rsa2048']);
    ptool(['addkey', '--label=tt-tpm', '--key-label=tpm-p256', `--userpin=${USER_PIN}`, '--algorithm=ecc256']);
  } catch (err) {
    for (const p of procs.reverse()) await killAndWait(p);
    fs.rmSync(work, { recursive: true, force: true });
    throw new Error(`TPM provisioning failed: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
  for (const p of procs.reverse()) await killAndWait(p);
  fs.writeFileSync(path.join(work, 'done'), '');
  // Another test process may have won the race; either copy is good.
  try {
    fs.renameSync(work, dir);
  } catch {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await canListen(port + 1))) return port;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function tpmAnswers(env: NodeJS.ProcessEnv): boolean {
  try {
    execFileSync('tpm2_getcap', ['properties-fixed'], { env, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, proc: ChildProcess): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with status ${proc.exitCode}`);
    if (Date.now() > end) throw new Error(`${what} did not come up in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
