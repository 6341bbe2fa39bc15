// A fresh opencryptoki soft token (the "swtok" of IBM's opencryptoki) in a temp dir, served by
// its own pkcsslotd inside a private mount namespace: opencryptoki 3.8 reads only fixed paths
// (/etc/opencryptoki, /var/lib/opencryptoki, /run/pkcsslotd.socket, /dev/shm), so the temp dir
// is bound over them there and the system's are never touched. Debian 12's 3.8.1 soft token has
// no EC key generation (CKM_EC_KEY_PAIR_GEN is missing): RSA keys only.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mountNsSkipReason, privateMounts, type MountNamespace } from './mount-ns';
import { killAndWait } from './sshd';

export const OCK_MODULE = '/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so';
export const OCK_SLOTD = '/usr/sbin/pkcsslotd';
const SW_SLOT = '3';
const DEFAULT_SO_PIN = '87654321';

export interface OckToken {
  dir: string;
  module: string;
  label: string;
  pin: string;
  ns: MountNamespace;
  /** the keys made: RSA-2048 under CKA_ID 01 */
  keys: { id: string; label: string; type: 'rsa' }[];
  cleanup(): Promise<void>;
}

export function ockSkipReason(): string | false {
  if (!fs.existsSync(OCK_MODULE) || !fs.existsSync(OCK_SLOTD)) return 'opencryptoki is not installed (scripts/install.sh installs it)';
  const ns = mountNsSkipReason();
  if (ns) return ns;
  try {
    execFileSync('getent', ['group', 'pkcs11'], { stdio: 'pipe' });
  } catch {
    return "the 'pkcs11' group that pkcsslotd needs does not exist (the opencryptoki package makes it)";
  }
  return false;
}

export async function makeOpencryptokiToken(opts: { label?: string; pin?: string } = {}): Promise<OckToken> {
  const label = opts.label ?? 'tt-ock';
  const pin = opts.pin ?? '123456';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-ock-'));
  const etc = path.join(dir, 'etc');
  const lib = path.join(dir, 'lib');
  fs.mkdirSync(etc);
  fs.mkdirSync(path.join(lib, 'swtok', 'TOK_OBJ'), { recursive: true });
  fs.writeFileSync(path.join(etc, 'opencryptoki.conf'), `version opencryptoki-3.1\nslot ${SW_SLOT}\n{\nstdll = libpkcs11_sw.so\n}\n`);
  const ns = await privateMounts({ binds: { '/etc/opencryptoki': etc, '/var/lib/opencryptoki': lib }, tmpfs: ['/run', '/dev/shm'] });
  const sh = (script: string, input?: string) => ns.exec('sh', ['-ec', script], { input });
  let slotd: ChildProcess | undefined;
  try {
    // pkcsslotd and the library check that the store and lock dirs belong to group pkcs11.
    sh(`mkdir -p /run/lock/opencryptoki/swtok; chgrp -R pkcs11 /run/lock/opencryptoki ${lib}; chmod -R 0770 /run/lock/opencryptoki ${lib}`);
    // In the foreground, as our child: stopped and reaped by us, never left behind as a daemon.
    slotd = spawn(...ns.wrap(OCK_SLOTD, ['-f']), { stdio: 'ignore' });
    await waitFor(() => {
      if (slotd!.exitCode !== null) throw new Error(`pkcsslotd exited with ${slotd!.exitCode}`);
      return socketReady(ns);
    }, 10_000, 'pkcsslotd socket');
    sh(`pkcsconf -c ${SW_SLOT} -I -S ${DEFAULT_SO_PIN}`, `${label}\n`);
    sh(`pkcsconf -c ${SW_SLOT} -P -S ${DEFAULT_SO_PIN} -n 12345678`);
    sh(`pkcsconf -c ${SW_SLOT} -u -S 12345678 -n 11111111`);
    // A user PIN set by the SO must be changed before use (CKF_USER_PIN_TO_BE_CHANGED).
    sh(`pkcsconf -c ${SW_SLOT} -p -U 11111111 -n ${pin}`);
    ns.exec('pkcs11-tool', ['--module', OCK_MODULE, '--login', '--pin', pin, '--keypairgen', '--key-type', 'rsa:2048', '--id', '01', '--label', 'ock-rsa2048']);
  } catch (err) {
    await stop(ns, dir, slotd);
    throw new Error(`opencryptoki fixture failed: ${String((err as { stderr?: string }).stderr ?? err)}`);
  }
  return {
    dir,
    module: OCK_MODULE,
    label,
    pin,
    ns,
    keys: [{ id: '01', label: 'ock-rsa2048', type: 'rsa' }],
    cleanup: () => stop(ns, dir, slotd),
  };
}

async function stop(ns: MountNamespace, dir: string, slotd: ChildProcess | undefined): Promise<void> {
  if (slotd) await killAndWait(slotd);
  await ns.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

function socketReady(ns: MountNamespace): boolean {
  try {
    ns.exec('test', ['-S', '/run/pkcsslotd.socket']);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
