// The emulated PIV card of ../shared/vcard (pcscd + vpcd + pivcard.py) for tests that need
// the real smart-card stack: opensc-pkcs11.so → pcsc-lite → pcscd → a card that can be
// pulled out and put back. Only one pcscd can run on a machine and `node --test` runs test
// files in parallel, so every file that uses the card holds a lock for its whole run:
// an exclusive mkdir in the system temp dir, with the holder's pid inside so that a lock
// left by a killed test run is taken over instead of blocking forever.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VPCD_PORT } from './ports';

export const VCARD_KIT_DIR = path.resolve(__dirname, '..', '..', '..', 'shared', 'vcard');
const KIT = path.join(VCARD_KIT_DIR, 'vcard');
export const VCARD_PIN = '123456';
export const VCARD_PUK = '12345678';
const LOCK_DIR = path.join(os.tmpdir(), 'tt-vcard.lock');

/**
 * The kit's Debian packages (its PKGS= line) that are not installed. scripts/install.sh
 * installs them; checking first turns a missing one into its name and the command to run,
 * instead of a card that never appears or a test that times out.
 */
export function vcardMissingPackages(): string[] {
  const pkgs = /^PKGS="([^"]+)"/m.exec(fs.readFileSync(KIT, 'utf8'))?.[1].split(/\s+/) ?? [];
  return pkgs.filter((p) => spawnSync('dpkg-query', ['-W', '-f=${db:Status-Status}', p], { encoding: 'utf8' }).stdout !== 'installed');
}

/** Throws naming the missing packages and how to install them; call before `vcard up`. */
export function assertVcardPackages(): void {
  const missing = vcardMissingPackages();
  if (missing.length > 0) {
    throw new Error(
      `the emulated card needs Debian packages that are not installed: ${missing.join(' ')}.\n` +
        `Run scripts/install.sh, or: apt-get -o DPkg::Lock::Timeout=600 install -y ${missing.join(' ')}`,
    );
  }
}

/** Why card tests cannot run here (for `{ skip }`), or false when they can. */
export function vcardSkipReason(): string | false {
  if (!fs.existsSync(KIT)) return `no emulated PIV card kit at ${VCARD_KIT_DIR}`;
  if (process.getuid?.() !== 0) return 'the emulated PIV card needs root (its kit starts pcscd)';
  return false;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(): number {
  try {
    return Number(fs.readFileSync(path.join(LOCK_DIR, 'pid'), 'utf8').trim());
  } catch {
    return NaN;
  }
}

/**
 * Takes the machine-wide card lock, waiting up to `timeoutMs` for another test file to
 * finish with the card. Returns the release function (idempotent; also run on exit).
 */
export async function lockVcard(timeoutMs = 240_000): Promise<() => void> {
  const end = Date.now() + timeoutMs;
  let createdAt = 0;
  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR);
      fs.writeFileSync(path.join(LOCK_DIR, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = holderOf();
    if (Number.isNaN(holder)) {
      // Between the holder's mkdir and its pid write; give it a moment, then call it stale.
      if (createdAt === 0) createdAt = Date.now();
      if (Date.now() - createdAt > 2000) fs.rmSync(LOCK_DIR, { recursive: true, force: true });
    } else if (!pidAlive(holder)) {
      fs.rmSync(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > end) throw new Error(`the emulated card is still in use by pid ${holder} after ${timeoutMs / 1000} s (lock ${LOCK_DIR})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    if (holderOf() === process.pid) fs.rmSync(LOCK_DIR, { recursive: true, force: true });
  };
  process.on('exit', release);
  return release;
}

export interface Vcard {
  /** VCARD_DIR of this card: state JSON, logs, pid files. */
  dir: string;
  /** opensc-pkcs11.so as the kit found it. */
  module: string;
  /** Environment for the kit and for tools that talk to the card. */
  env: NodeJS.ProcessEnv;
  /** Pull the card out; resolves once OpenSC no longer lists the token (pcscd noticed). */
  remove(): Promise<void>;
  /** Put it back; resolves right after the signal (the caller measures from here). */
  insert(): void;
  /** Waits until OpenSC lists the token again. */
  waitPresent(timeoutMs?: number): Promise<void>;
  /** `pkcs11-tool -L` on the card. */
  pkcs11ToolList(): string;
  /** The token flags line of `pkcs11-tool -L` ("login required, rng, ...") or '' when absent. */
  tokenFlags(): string;
  /** Stops the card and pcscd, removes the state and releases the lock. */
  down(): Promise<void>;
}

export interface VcardOptions {
  /** VCARD_KEYS, default the kit's "9a:RSA2048 9c:ECCP256". */
  keys?: string;
  /** How long to wait for the lock. */
  lockTimeoutMs?: number;
}

/**
 * Takes the lock and starts a fresh card (new state: PIN counters full) in its own dir.
 * Keys are preloaded (fast) rather than generated over APDUs.
 */
export async function startVcard(opts: VcardOptions = {}): Promise<Vcard> {
  assertVcardPackages();
  const release = await lockVcard(opts.lockTimeoutMs);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-vcard-'));
  const env: NodeJS.ProcessEnv = { ...process.env, VCARD_DIR: dir, VCARD_PROVISION: 'preload' };
  if (opts.keys) env.VCARD_KEYS = opts.keys;
  const kit = (args: string[], timeout = 60_000) => execFileSync(KIT, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout });
  try {
    await waitForVpcdPort();
    kit(['up']);
  } catch (err) {
    spawnSync(KIT, ['down'], { env, stdio: 'ignore', timeout: 30_000 });
    // The kit's logs go with its dir: keep their ends in the error, which is all a CI run shows.
    const tail = (f: string) => {
      try {
        return fs.readFileSync(path.join(dir, f), 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      } catch {
        return '(none)';
      }
    };
    const logs = `\n--- pcscd.log:\n${tail('pcscd.log')}\n--- pivcard.log:\n${tail('pivcard.log')}`;
    fs.rmSync(dir, { recursive: true, force: true });
    release();
    const e = err as { stderr?: string; message: string };
    throw new Error(`vcard up failed: ${e.stderr || e.message}${logs}`);
  }
  const module = /OPENSC_MODULE=([^;]+);/.exec(kit(['env']))![1];
  const list = () => {
    const r = spawnSync('pkcs11-tool', ['--module', module, '-L'], { env, encoding: 'utf8', timeout: 20_000 });
    return r.stdout ?? '';
  };
  const present = () => /token label/.test(list());
  const waitFor = async (want: boolean, timeoutMs: number) => {
    const end = Date.now() + timeoutMs;
    while (present() !== want) {
      if (Date.now() > end) throw new Error(`the card did not ${want ? 'appear' : 'go away'} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  let stopped = false;
  return {
    dir,
    module,
    env,
    remove: async () => {
      kit(['remove']);
      await waitFor(false, 10_000);
    },
    insert: () => {
      kit(['insert']);
    },
    waitPresent: (timeoutMs = 10_000) => waitFor(true, timeoutMs),
    pkcs11ToolList: list,
    tokenFlags: () => /token flags\s*:\s*(.*)$/m.exec(list())?.[1] ?? '',
    down: async () => {
      if (stopped) return;
      stopped = true;
      spawnSync(KIT, ['down'], { env, stdio: 'ignore', timeout: 30_000 });
      fs.rmSync(dir, { recursive: true, force: true });
      release();
    },
  };
}

/**
 * An SSH_ASKPASS script: it appends its prompt (argv[1]) to `<file>.prompts` and prints the
 * content of `<file>.answer`, or exits 1 (the person pressed Cancel) when that is "CANCEL".
 * setAnswer() changes the answer between requests.
 */
export function writeAskpass(dir: string, name: string, answer: string): { file: string; setAnswer(a: string): void; prompts(): string[] } {
  const file = path.join(dir, `askpass-${name}.sh`);
  fs.writeFileSync(
    file,
    `#!/bin/sh\nprintf '%s\\n' "$1" >> '${file}.prompts'\na=$(cat '${file}.answer')\n[ "$a" = CANCEL ] && exit 1\nprintf '%s\\n' "$a"\n`,
    { mode: 0o700 },
  );
  const setAnswer = (a: string) => fs.writeFileSync(`${file}.answer`, a);
  setAnswer(answer);
  return {
    file,
    setAnswer,
    prompts: () => {
      try {
        return fs.readFileSync(`${file}.prompts`, 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}

/** Runs a command with a deadline; never throws on exit status (the sshd helper's runner). */
export { run as runTool } from './sshd';

/**
 * Waits until the vpcd port can be bound. The port lies in the kernel's ephemeral range, so
 * another test's connection can be given it, and its TIME-WAIT holds it for a minute; vpcd
 * binds without SO_REUSEADDR, fails with "Address already in use", and no card ever appears.
 * /proc/net/tcp shows such holders, but not all: a socket whose connection ended while its
 * process still has it open is only bound (CLOSE state) and listed nowhere. So the test is
 * a bind of our own, and /proc/net/tcp only says who holds it.
 */
export async function waitForVpcdPort(timeoutMs = 90_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const held = vpcdPortHolders();
    if (held.length === 0 && canBind(VPCD_PORT)) return;
    if (Date.now() > end) {
      const why = held.length > 0 ? held.join('; ') : `no socket listed; processes with TCP sockets listed nowhere (bound only): ${unlistedSocketOwners().join('; ') || 'none found'}`;
      throw new Error(`TCP port ${VPCD_PORT} (the emulated card's reader) stays in use: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whether a plain bind (no SO_REUSEADDR, as vpcd; Node's listen sets it) succeeds now. */
function canBind(port: number): boolean {
  const probe = [
    'import socket, sys',
    's = socket.socket(socket.AF_INET, socket.SOCK_STREAM)',
    'try:',
    `    s.bind(("0.0.0.0", ${port}))`,
    'except OSError:',
    '    sys.exit(1)',
  ].join('\n');
  return spawnSync('python3', ['-c', probe], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

/** pid and command of processes holding TCP sockets that no /proc/net table lists. */
function unlistedSocketOwners(): string[] {
  const listed = new Set<string>();
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6', 'unix', 'raw', 'raw6', 'netlink', 'packet', 'udplite', 'udplite6']) {
    try {
      for (const line of fs.readFileSync(`/proc/net/${table}`, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        const inode = table === 'unix' ? f[6] : table === 'netlink' ? f[8] : table === 'packet' ? f[8] : f[9];
        if (inode) listed.add(inode);
      }
    } catch {
      // a table this kernel does not have
    }
  }
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const unlisted = fs
        .readdirSync(`/proc/${pid}/fd`)
        .map((fd) => /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1])
        .filter((i): i is string => i !== undefined && !listed.has(i));
      if (unlisted.length > 0) out.push(`${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 120)}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** /proc/net/tcp{,6} lines whose local port is the vpcd port, as "state → remote". */
function vpcdPortHolders(): string[] {
  const port = `:${VPCD_PORT.toString(16).toUpperCase().padStart(4, '0')}`;
  const out: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines: string[];
    try {
      lines = fs.readFileSync(table, 'utf8').split('\n').slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      const [, local, remote, state] = line.trim().split(/\s+/);
      if (local?.endsWith(port)) out.push(`state 0x${state} to ${remote}`);
    }
  }
  return out;
}
