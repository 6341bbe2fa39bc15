// The agent and its module hosts hold keys and PINs: prctl(PR_SET_DUMPABLE, 0) makes them
// non-dumpable, so another process of the same user cannot ptrace-attach (or read
// /proc/PID/mem). Tried as that user would: an agent run as an ordinary uid, and a small C
// program calling ptrace(PTRACE_ATTACH) as the same uid. Root (CAP_SYS_PTRACE) can still
// attach; that is expected and shown too.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeToken, SOFTHSM_MODULE, type TestToken } from '../helpers/softhsm';
import { killAndWait } from '../helpers/sshd';
import {
  addSmartcardKey,
  asUser,
  buildFixture,
  fixturesUnavailable,
  IS_ROOT,
  NOBODY,
  openTempDir,
  RawClient,
  SSH_AGENT_SUCCESS,
  startForeground,
  type ForegroundAgent,
} from './helpers';

const skip = (!IS_ROOT && 'needs root to run the agent as an ordinary uid') || fixturesUnavailable();

let home: string;
let attach: string;
let agent: ForegroundAgent;
let tok: TestToken;

function attachAs(uid: number, pid: number): string {
  const cmd = uid === 0 ? [attach] : [...asUser(uid), attach];
  const r = spawnSync(cmd[0], [...cmd.slice(1), String(pid)], { encoding: 'utf8', timeout: 10_000 });
  return r.stdout.trim();
}

/** Direct children of `pid` (the module hosts of an agent). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      // Field 4 is the parent pid; the command name (field 2) may contain spaces, so split after ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

before(async () => {
  if (skip) return;
  home = openTempDir('tt-ptrace-');
  attach = buildFixture('ptrace-attach', home);
  tok = makeToken({ tokens: [{ label: 'ptrace', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'ptrace-p256' }] }], setEnv: false });
  execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, home, tok.dir]);
  fs.chmodSync(tok.dir, 0o755);
  const run = path.join(home, 'run');
  fs.mkdirSync(run, { mode: 0o700 });
  fs.chownSync(run, NOBODY, NOBODY);
  agent = await startForeground({
    sock: path.join(run, 'agent.sock'),
    prefix: asUser(NOBODY),
    env: { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: run, SOFTHSM2_CONF: tok.conf },
  });
  // A token loaded, so module hosts (which hold the PIN) run too. Root may talk to the agent.
  const c = await RawClient.connect(agent.sock);
  assert.equal((await c.request(addSmartcardKey(SOFTHSM_MODULE, tok.pin), 60_000))[0], SSH_AGENT_SUCCESS, agent.log());
  c.end();
});
after(async () => {
  await agent?.stop();
  tok?.cleanup();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

test('control: the same user can ptrace-attach an ordinary (dumpable) node process', { skip }, async () => {
  const plain = spawn(asUser(NOBODY)[0], [...asUser(NOBODY).slice(1), process.execPath, '-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(attachAs(NOBODY, plain.pid!), 'attached');
  } finally {
    await killAndWait(plain, 'SIGKILL');
  }
});

test('the agent: same-uid ptrace attach refused, /proc/PID/mem and environ handed to root', { skip }, () => {
  assert.equal(fs.statSync(`/proc/${agent.pid}`).uid, NOBODY, 'the agent really runs as the ordinary uid');
  assert.equal(attachAs(NOBODY, agent.pid), 'refused EPERM');
  for (const f of ['mem', 'environ', 'status']) assert.equal(fs.statSync(`/proc/${agent.pid}/${f}`).uid, 0, `/proc/PID/${f} owned by root`);
  const gdb = spawnSync(asUser(NOBODY)[0], [...asUser(NOBODY).slice(1), 'gdb', '-p', String(agent.pid), '-batch', '-ex', 'info registers rip'], { encoding: 'utf8', timeout: 30_000 });
  if (gdb.error === undefined) assert.match(gdb.stdout + gdb.stderr, /Operation not permitted|ptrace: /, 'gdb cannot attach either');
  // Root has CAP_SYS_PTRACE: dumpable=0 does not stop it (expected, documented).
  assert.equal(attachAs(0, agent.pid), 'attached');
});

// Needs src/host/main.ts to call setDumpable(false) at start (a dumpable flag does not
// survive exec, so the agent cannot set it for its children).
test('module hosts (they hold the PIN) are not dumpable either', { skip }, () => {
  const hosts = childrenOf(agent.pid);
  assert.ok(hosts.length >= 1, 'a module host runs');
  for (const pid of hosts) {
    assert.equal(attachAs(NOBODY, pid), 'refused EPERM', `module host ${pid}`);
    assert.equal(fs.statSync(`/proc/${pid}/mem`).uid, 0);
  }
});
