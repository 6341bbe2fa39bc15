// The OS keyring against a real gnome-keyring-daemon on a private D-Bus session bus
// (dbus-run-session), with HOME in a temp dir so the user's own keyring is never touched.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { openKeyring } from '../../src/pin/keyring';
import { tempDir, writeAskpass } from './helpers';

const missing = ['dbus-run-session', 'gnome-keyring-daemon', 'secret-tool'].filter(
  (p) => spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0,
);

test('set/get/delete, remember, final try and reject against gnome-keyring-daemon', { skip: missing.length ? `not installed: ${missing.join(', ')} (apt-get install dbus gnome-keyring libsecret-tools)` : false, timeout: 120_000 }, (t) => {
  const dir = tempDir(t);
  writeAskpass(dir);
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_DATA_HOME: path.join(home, 'data'), XDG_CACHE_HOME: path.join(home, 'cache'), PIN_TEST_DIR: dir };
  delete env.DBUS_SESSION_BUS_ADDRESS;
  delete env.XDG_RUNTIME_DIR;
  const child = path.join(__dirname, 'keyring-child.ts');
  // A non-empty password creates and unlocks the "login" collection without a prompt.
  const script = `printf test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "${process.execPath}" --import tsx "${child}"`;
  const r = spawnSync('dbus-run-session', ['--', 'sh', '-c', script], { env, encoding: 'utf8', timeout: 110_000, cwd: path.join(__dirname, '..', '..') });
  // gnome-keyring-daemon outlives the child inside the bus session; dbus-run-session ends it.
  assert.equal(r.status, 0, `child failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /keyring-child: all checks passed/);
});

test('with no D-Bus session the store is unavailable, said in one line', async (t) => {
  const dir = tempDir(t);
  const lines: string[] = [];
  const store = await openKeyring({ log: (l) => lines.push(l), env: { HOME: dir, XDG_RUNTIME_DIR: dir } });
  assert.equal(store, null);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^no OS keyring available \(no D-Bus session bus: .*\); the PIN will be asked for instead$/);
});

test('a bus address with nothing behind it: unavailable, one line, no hang', async (t) => {
  const dir = tempDir(t);
  const lines: string[] = [];
  const code = `require('${path.join(__dirname, '..', '..', 'src', 'pin', 'keyring.ts')}').openKeyring({ log: (l) => console.log(l) }).then((s) => console.log(s === null ? 'NULL' : 'STORE'))`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
    env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${dir}/no-such-bus`, HOME: dir },
    encoding: 'utf8',
    timeout: 30_000,
  });
  lines.push(...r.stdout.trim().split('\n'));
  assert.equal(lines.length, 2, r.stdout + r.stderr);
  assert.match(lines[0], /^no OS keyring available \(.+\); the PIN will be asked for instead$/);
  assert.equal(lines[1], 'NULL');
});
