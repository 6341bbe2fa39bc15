// The socket path: a stale socket of ours (its agent died) is replaced, a live agent's socket never
// is, and neither is anything that is not a socket (a file, or a symlink planted there).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connects } from '../helpers/agent';
import { startForeground } from './helpers';

function privateDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tt-sockfile-'));
}

test('a stale socket is replaced; a second agent never takes over a live one', { timeout: 60_000 }, async (t) => {
  const dir = privateDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'agent.sock');
  // A socket whose listener died by SIGKILL, as a crashed agent leaves it.
  const crashed = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.equal(crashed.signal, 'SIGKILL');
  assert.ok(fs.lstatSync(sock).isSocket() && !(await connects(sock)));

  const first = await startForeground({ sock });
  t.after(() => first.stop());
  assert.equal(fs.lstatSync(sock).mode & 0o777, 0o600);
  const inode = fs.lstatSync(sock).ino;
  const second = await startForeground({ sock, expectExit: true });
  assert.notEqual(second.child.exitCode, 0);
  assert.match(second.log(), /an agent is already running on/);
  assert.equal(fs.lstatSync(sock).ino, inode, 'the live socket is the same file');
  assert.ok(await connects(sock), 'and still answers');
});

test('a regular file or a symlink at the socket path is left alone and the agent does not start', { timeout: 60_000 }, async (t) => {
  const dir = privateDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'file.sock');
  fs.writeFileSync(file, 'precious');
  const target = path.join(dir, 'target');
  fs.writeFileSync(target, 'also precious');
  const link = path.join(dir, 'link.sock');
  fs.symlinkSync(target, link);
  for (const sock of [file, link]) {
    const a = await startForeground({ sock, expectExit: true });
    assert.notEqual(a.child.exitCode, 0);
    assert.match(a.log(), /cannot bind to .*: address already in use \(.* is not a socket/);
  }
  assert.equal(fs.readFileSync(file, 'utf8'), 'precious');
  assert.ok(fs.lstatSync(link).isSymbolicLink());
  assert.equal(fs.readFileSync(target, 'utf8'), 'also precious');
});
