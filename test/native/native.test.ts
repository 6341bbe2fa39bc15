// The addon against the real kernel: unix sockets, prctl, and RNDADDENTROPY on /dev/random.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ADDON_PATH, addEntropy, getDumpable, nativeMissing, pcscReaderState, peerCred, setDumpable, socketFd } from '../../src/native';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** Runs a small CommonJS script in a child that loads the built addon directly. */
function runChild(script: string, opts: { uid?: number; gid?: number; argv0?: string[] } = {}) {
  const prefix = opts.argv0 ?? [];
  const cmd = prefix.length ? prefix[0]! : process.execPath;
  const args = [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), '-e', script];
  return spawnSync(cmd, args, {
    encoding: 'utf8',
    env: { ...process.env, ADDON: ADDON_PATH },
    uid: opts.uid,
    gid: opts.gid,
    timeout: 10_000,
  });
}

function withUnixServer(fn: (sockPath: string, server: net.Server, accepted: Promise<net.Socket>) => Promise<void>) {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-native-'));
    fs.chmodSync(dir, 0o755);
    const sockPath = path.join(dir, 's');
    const server = net.createServer();
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(sockPath, resolve));
    fs.chmodSync(sockPath, 0o777);
    try {
      await fn(sockPath, server, accepted);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('peerCred: both ends of a unix socket in this process see this process', { timeout: 15_000 }, withUnixServer(async (sockPath, _s, accepted) => {
  const client = net.connect(sockPath);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const serverSide = await accepted;
  const me = { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() };
  assert.deepEqual(peerCred(socketFd(serverSide)), me);
  assert.deepEqual(peerCred(socketFd(client)), me);
  client.destroy();
  serverSide.destroy();
}));

test('peerCred: a client in another process (as another uid when root) is reported as such', { timeout: 15_000 }, withUnixServer(async (sockPath, _s, accepted) => {
  const uid = isRoot ? NOBODY : process.getuid!();
  const gid = isRoot ? NOBODY : process.getgid!();
  // The child connects and waits for the server to hang up.
  const child = spawn(process.execPath, ['-e', `require('net').connect(${JSON.stringify(sockPath)}).on('close', () => {})`], {
    uid,
    gid,
    stdio: 'ignore',
  });
  try {
    const serverSide = await accepted;
    assert.deepEqual(peerCred(socketFd(serverSide)), { pid: child.pid, uid, gid });
    serverSide.destroy();
  } finally {
    child.kill();
  }
}));

test('peerCred: errors carry the errno name', () => {
  const fd = fs.openSync(ADDON_PATH, 'r');
  try {
    assert.throws(() => peerCred(fd), { code: 'ENOTSOCK', syscall: 'getsockopt(SO_PEERCRED)' });
  } finally {
    fs.closeSync(fd);
  }
  assert.throws(() => peerCred(987654), { code: 'EBADF' });
  assert.throws(() => socketFd({}), TypeError);
});

test('setDumpable: round trip, restored afterwards', () => {
  const before = getDumpable();
  try {
    setDumpable(false);
    assert.equal(getDumpable(), false);
    setDumpable(true);
    assert.equal(getDumpable(), true);
  } finally {
    setDumpable(before);
  }
});

test('setDumpable(false) takes effect: the kernel hands /proc/PID of the process to root', { skip: !isRoot && 'needs root to run the child as another uid' }, () => {
  // A non-dumpable process's /proc/PID files are owned by root, which is what keeps
  // ptrace and /proc/PID/mem away from other processes of the same user.
  const script = `
    const n = require(process.env.ADDON);
    const fs = require('fs');
    const owner = () => fs.statSync('/proc/self/mem').uid;
    const a = owner(); n.setDumpable(false); const b = owner();
    process.stdout.write(JSON.stringify({ a, b, dumpable: n.getDumpable() }));`;
  const r = runChild(script, { uid: NOBODY, gid: NOBODY });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { a: NOBODY, b: 0, dumpable: false });
});

test('addEntropy: the kernel accepts mixed-only and credited input on /dev/random', { skip: !isRoot && 'RNDADDENTROPY needs root (CAP_SYS_ADMIN)' }, () => {
  const fd = fs.openSync('/dev/random', 'w');
  try {
    const chunk = randomBytes(61); // not a multiple of 4: the struct's word padding is exercised
    addEntropy(fd, chunk, 0); // mix without credit
    addEntropy(fd, chunk, 16); // 2 bits per byte, well under 8·61
    addEntropy(fd, Buffer.alloc(65536, 1), 0); // a 64 KiB chunk in one call
    assert.throws(() => addEntropy(fd, chunk, 8 * 61 + 1), RangeError);
    assert.throws(() => addEntropy(fd, Buffer.alloc(0), 0), RangeError);
    assert.throws(() => addEntropy(fd, chunk, 1.5), RangeError);
  } finally {
    fs.closeSync(fd);
  }
});

test('addEntropy: wrong descriptors give ENOTTY / EBADF', () => {
  const fd = fs.openSync(ADDON_PATH, 'r');
  try {
    assert.throws(() => addEntropy(fd, Buffer.alloc(8), 0), { code: 'ENOTTY', syscall: 'ioctl(RNDADDENTROPY)' });
  } finally {
    fs.closeSync(fd);
  }
  assert.throws(() => addEntropy(987654, Buffer.alloc(8), 0), { code: 'EBADF' });
});

// Without CAP_SYS_ADMIN the kernel refuses RNDADDENTROPY with EPERM even though /dev/random
// is world-writable (a plain write() mixes data in but never credits it). Shown two ways:
// another uid, and root with CAP_SYS_ADMIN removed from its bounding set.
const EPERM_SCRIPT = `
  const n = require(process.env.ADDON);
  const fd = require('fs').openSync('/dev/random', 'w');
  try { n.addEntropy(fd, Buffer.alloc(32, 7), 0); console.log('accepted'); }
  catch (e) { console.log(e.code + ' ' + e.message); }`;

test('addEntropy: EPERM as an ordinary user', { skip: !isRoot && 'needs root to run the child as another uid' }, () => {
  const r = runChild(EPERM_SCRIPT, { uid: NOBODY, gid: NOBODY });
  assert.equal(r.stdout.trim(), 'EPERM ioctl(RNDADDENTROPY): Operation not permitted', r.stderr);
});

test('addEntropy: EPERM as root without CAP_SYS_ADMIN', { skip: (!isRoot || !fs.existsSync('/usr/bin/setpriv')) && 'needs root and setpriv' }, () => {
  const r = runChild(EPERM_SCRIPT, { argv0: ['/usr/bin/setpriv', '--bounding-set=-sys_admin', '--inh-caps=-sys_admin'] });
  assert.equal(r.stdout.trim(), 'EPERM ioctl(RNDADDENTROPY): Operation not permitted', r.stderr);
});

// A reader that is there is asked about in test/e2e/reader-watch.test.ts (the emulated card
// behind the real pcscd); here, what a caller gets where there is nothing to tell.
test('the built addon has every function this tt-agent calls (else the agent warns at start)', () => {
  assert.deepEqual(nativeMissing(), []);
});

test('pcscReaderState: a reader pcscd does not know is not known (null with no pcscd at all); a bad name throws', async () => {
  const none = await pcscReaderState('tt-agent test: no such reader 00 00');
  assert.ok(none === null || none.known === false, JSON.stringify(none));
  const native = require(ADDON_PATH) as { pcscReaderState(name: unknown): Promise<unknown> };
  assert.throws(() => native.pcscReaderState(''), TypeError);
  assert.throws(() => native.pcscReaderState(42), TypeError);
  assert.throws(() => native.pcscReaderState('x'.repeat(200)), TypeError);
  // A promise per call, settled off the event loop: many at once all settle.
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => pcscReaderState(`none ${i}`)));
  assert.equal(many.length, 20);
  for (const s of many) assert.ok(s === null || s.known === false, JSON.stringify(s));
});
