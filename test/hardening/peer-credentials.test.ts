// Who may talk to the agent, tried the way an outsider would: a process of another uid
// connecting to the socket. Two barriers: the file modes (socket 0600 in a 0700 directory)
// and, behind them, SO_PEERCRED on every connection (only the agent's uid and root pass). To
// show the second barrier on its own, the tests open the socket's modes up to everyone.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/agent';
import { IS_ROOT, NOBODY, asUser, openTempDir, probeAs, startForeground } from './helpers';

const skip = !IS_ROOT && 'needs root to run clients (and agents) as other uids';
const OTHER = 65533; // neither the agent's uid nor root

test('socket 0600 in a 0700 directory: another uid cannot even connect', { skip, timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-peer-')); // 0700
  const sock = path.join(dir, 'agent.sock');
  const agent = await startForeground({ sock });
  try {
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    const st = fs.lstatSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(await probeAs(NOBODY, sock), 'connect-error EACCES');
    assert.equal(await probeAs(0, sock), 'answered 12', 'root (the owner here) is answered');
    assert.doesNotMatch(agent.log(), /refused/, 'the kernel refused it; the agent never saw the attempt');
  } finally {
    await agent.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('peer check: with the socket opened to everyone, another uid is closed before any message and logged with uid and pid', { skip, timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-peer-'));
  const sock = path.join(dir, 'agent.sock');
  const agent = await startForeground({ sock });
  try {
    // Take the file-mode barrier away: only SO_PEERCRED is left.
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(sock, 0o666);
    assert.equal(await probeAs(NOBODY, sock), 'closed-without-answer');
    await agent.waitForLog(new RegExp(`refused: peer uid ${NOBODY} \\(pid \\d+\\)`));
    assert.equal(await probeAs(0, sock), 'answered 12', 'root still talks to it');
  } finally {
    await agent.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an agent run by an ordinary user answers that user and root, and refuses a third uid', { skip, timeout: 60_000 }, async () => {
  const home = openTempDir('tt-peer-home-');
  fs.chownSync(home, NOBODY, NOBODY);
  const sockDir = path.join(home, 'run');
  fs.mkdirSync(sockDir, { mode: 0o700 });
  fs.chownSync(sockDir, NOBODY, NOBODY);
  const sock = path.join(sockDir, 'agent.sock');
  const env = { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: sockDir };
  const agent = await startForeground({ sock, prefix: asUser(NOBODY), env });
  try {
    assert.equal(fs.lstatSync(sock).uid, NOBODY);
    fs.chmodSync(sockDir, 0o755);
    fs.chmodSync(sock, 0o666);
    assert.equal(await probeAs(NOBODY, sock), 'answered 12', 'its own uid');
    assert.equal(await probeAs(0, sock), 'answered 12', 'root');
    assert.equal(await probeAs(OTHER, sock), 'closed-without-answer');
    await agent.waitForLog(new RegExp(`refused: peer uid ${OTHER} \\(pid \\d+\\) is neither the agent's owner \\(uid ${NOBODY}\\) nor root`));
  } finally {
    await agent.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('without the native addon the agent starts only behind a private directory, and says so loudly', { timeout: 60_000 }, async () => {
  // A copy of the package without build/: exactly what a failed addon build leaves.
  const pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-noaddon-'));
  fs.cpSync(path.join(REPO_ROOT, 'dist'), path.join(pkg, 'dist'), { recursive: true });
  fs.cpSync(path.join(REPO_ROOT, 'bin'), path.join(pkg, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  const bin = path.join(pkg, 'bin', 'tt-agent');
  try {
    const open = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-noaddon-open-'));
    fs.chmodSync(open, 0o755);
    const refused = await startForeground({ sock: path.join(open, 'agent.sock'), bin, expectExit: true });
    assert.notEqual(refused.child.exitCode, 0);
    assert.match(refused.log(), /native addon is not built, so peer credentials cannot be checked, and .* is accessible to others/);
    assert.ok(!fs.existsSync(path.join(open, 'agent.sock')), 'no socket was created');

    const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-noaddon-closed-'));
    const sock = path.join(closed, 'agent.sock');
    const agent = await startForeground({ sock, bin });
    try {
      assert.match(agent.log(), /SECURITY: native addon not built: peer credentials are NOT checked/);
      if (IS_ROOT) assert.equal(await probeAs(NOBODY, sock), 'connect-error EACCES');
    } finally {
      await agent.stop();
    }
    fs.rmSync(open, { recursive: true, force: true });
    fs.rmSync(closed, { recursive: true, force: true });
  } finally {
    fs.rmSync(pkg, { recursive: true, force: true });
  }
});
