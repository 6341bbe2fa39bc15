// `tt-agent add` as a new user types it, mistakes included: a module that is no module costs no
// PIN entry, a refused load prints the agent's own reason, typos are usage errors (exit 2), and
// a wrong PIN is said once. The agent gives its reason only to its own local client: a bound
// connection gets a bare SSH_AGENT_FAILURE. Needs `npm run build` first.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'node:test';
import { ADD_SMARTCARD_EXTENSION, encodeAddSmartcardRequest } from '../../src/protocol/add-smartcard-extension';
import { SshWriter } from '../../src/protocol/wire';
import { spawn, spawnSync } from 'node:child_process';
import { connects, startAgent, type RunningAgent } from '../helpers/agent';
import { RawClient, sessionBind, SSH_AGENT_FAILURE } from '../hardening/helpers';
import { makeToken, SOFTHSM_MODULE, type TestToken } from '../helpers/softhsm';
import { runCli, type CliResult } from './pubkey-run';

let tok: TestToken;
let agent: RunningAgent;
let dir: string;
const askpassLog = () => path.join(dir, 'askpass.log');

test.before(async () => {
  tok = makeToken({ tokens: [{ label: 't', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'k1' }] }], setEnv: false });
  agent = await startAgent({ env: tok.env });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-add-errors-'));
});
test.after(async () => {
  await agent.stop();
  tok.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs `tt-agent add ...` with an askpass that logs each call and answers `pin`. */
function add(args: string[], pin = tok.pin, sock = agent.sock): CliResult {
  const askpass = path.join(dir, 'askpass.sh');
  fs.writeFileSync(askpass, `#!/bin/sh\necho called >> '${askpassLog()}'\nprintf '%s\\n' '${pin}'\n`, { mode: 0o700 });
  fs.rmSync(askpassLog(), { force: true });
  return runCli(['add', ...args], { ...tok.env, SSH_AUTH_SOCK: sock, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force' });
}
const askedForPin = () => fs.existsSync(askpassLog());

function expectFailure(r: CliResult, status: number, firstLine: string, hint?: RegExp): void {
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines[0], firstLine, r.stderr);
  assert.equal(r.status, status, r.stderr);
  assert.equal(lines.length, 2, `one line and one hint: ${r.stderr}`);
  assert.match(lines[1], hint ?? /^ {2}\S/);
  assert.doesNotMatch(r.stderr, /\n\s+at |report it if it looks like a bug/);
}

test('a module that is not one is named before any PIN prompt, in the words list uses', () => {
  const cases: [string, string][] = [
    ['/usr/lib/x86_64-linux-gnu/libz.so.1', 'tt-agent: /usr/lib/x86_64-linux-gnu/libz.so.1 is a shared library but not a PKCS#11 module (it has no C_GetFunctionList)'],
    ['/nonexistent/module.so', 'tt-agent: PKCS#11 module /nonexistent/module.so does not exist'],
    [dir, `tt-agent: PKCS#11 module ${dir} is not a file`],
    ['/etc/passwd', 'tt-agent: /etc/passwd is not a loadable shared library (not an ELF file)'],
  ];
  for (const [module, line] of cases) {
    const r = add([module]);
    expectFailure(r, 1, line, /PKCS#11 module/);
    assert.ok(!askedForPin(), `no PIN prompt for ${module}`);
    assert.doesNotMatch(r.stderr, /-P/, 'no allowlist advice for a file that is not a module');
  }
  // The same words as `tt-agent list`.
  assert.equal(runCli(['list', '/usr/lib/x86_64-linux-gnu/libz.so.1'], tok.env).stderr.split('\n')[0], cases[0][1]);
});

test("a module outside the agent's allowlist is refused before the PIN prompt", () => {
  const copy = path.join(dir, 'softhsm-copy.so');
  fs.copyFileSync(SOFTHSM_MODULE, copy);
  const r = add([copy]);
  expectFailure(
    r,
    1,
    `tt-agent: module ${copy} is not in the agent's allowlist /usr/lib*/*,/usr/local/lib*/*,/usr/lib*/pkcs11/*,/usr/lib/*/pkcs11/*`,
    /Start the agent with -P covering that path/,
  );
  assert.ok(!askedForPin());
});

test("a URI naming no token: tt-agent add prints the agent's own reason", async () => {
  const r = add(['pkcs11:token=tt?module-name=softhsm2']);
  expectFailure(r, 1, "tt-agent: no token matches pkcs11:token=tt?module-name=softhsm2 (tokens: 't')", /tt-agent list \S*libsofthsm2\.so$/);
  assert.ok(askedForPin(), 'the token is only known after the PIN was handed over');
  await agent.waitForLog(/add-smartcard@tt-agent refused: loading \S+ failed: no token matches/);
  // The module from TT_AGENT_MODULE: the URI reads back as typed, as the README promises.
  const fromEnv = runCli(['add', 'pkcs11:token=tt', '--no-pin'], { ...tok.env, TT_AGENT_MODULE: SOFTHSM_MODULE, SSH_AUTH_SOCK: agent.sock });
  assert.equal(fromEnv.stderr.split('\n')[1], "tt-agent: no token matches pkcs11:token=tt (tokens: 't')", fromEnv.stderr);
  assert.equal(fromEnv.status, 1);
});

test("a module that fails to start in the agent: the agent's reason", async (t) => {
  const broken = await startAgent({ env: { ...tok.env, SOFTHSM2_CONF: path.join(dir, 'missing.conf') } });
  t.after(() => broken.stop());
  const r = add([SOFTHSM_MODULE], tok.pin, broken.sock);
  const first = r.stderr.split('\n')[0];
  // The words `tt-agent list` uses, and the module's own hint, both from the agent over the socket.
  assert.match(first, /^tt-agent: PKCS#11 module \S+libsofthsm2\.so failed to start: C_Initialize returned CKR_GENERAL_ERROR$/);
  // The hint is the module host's own (src/pkcs11/module-services.ts), carried by the agent:
  // it names what is wrong with this agent's environment, SOFTHSM2_CONF.
  expectFailure(r, 1, first, /^ {2}SoftHSM: Check SOFTHSM2_CONF and that its directories\.tokendir exists/);
});

test('typos are usage errors: exit 2 with a usage hint', () => {
  expectFailure(
    add(['no-such-module']),
    2,
    "tt-agent: no p11-kit module named 'no-such-module' in " + runCli(['list', 'no-such-module'], tok.env).stderr.split(' in ')[1].split('\n')[0],
    /Give the module's path instead/,
  );
  expectFailure(add(['pkcs11:token=a;colour=red']), 2, "tt-agent: malformed pkcs11: URI at 'colour=red': unknown attribute 'colour'", /RFC 7512/);
  expectFailure(add(['-h']), 2, "tt-agent: -h needs a destination ([USER@]HOST); here -h is ssh-add's destination flag, not help", /tt-agent add --help/);
  assert.ok(!askedForPin());
  for (const cmd of ['list', 'remove', 'pubkey']) {
    const r = runCli([cmd, 'no-such-module'], { ...tok.env, SSH_AUTH_SOCK: agent.sock });
    assert.equal(r.status, 2, `the same for ${cmd}: ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0], /^tt-agent: no p11-kit module named 'no-such-module' in /);
  }
});

test('a wrong PIN is reported once', () => {
  const r = add([SOFTHSM_MODULE], '000000');
  assert.match(r.stderr.split('\n')[0], /^tt-agent: PIN incorrect for token t( \([^)]*\))?$/);
  expectFailure(r, 1, r.stderr.split('\n')[0], /Check the PIN/);
  assert.equal(r.stdout, '');
  // And the right PIN still loads (nothing was locked by the first try).
  const ok = add([SOFTHSM_MODULE]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^token t \(serial \w+\): added 1 key\n$/);
});

test('the reason goes to local clients only: a bound connection gets a bare failure and loads nothing', async () => {
  const req = encodeAddSmartcardRequest({ readerId: 'pkcs11:token=nope?module-path=' + SOFTHSM_MODULE, pin: Buffer.from(tok.pin), constraints: [] });
  // Local: the reason.
  const local = await RawClient.connect(agent.sock);
  const reply = await local.request(Buffer.from(req), 60_000);
  assert.equal(reply[0], 29);
  assert.match(reply.toString('latin1'), /no token matches pkcs11:token=nope/);
  local.end();

  const countAdds = () => agent.log().split('\n').filter((l) => /added \d+ key\(s\) from/.test(l)).length;
  const addsBefore = countAdds();
  const failedBind = (b: Buffer) => {
    const broken = Buffer.from(b);
    broken[broken.length - 2] ^= 0xff; // inside the signature: the bind fails, but was attempted
    return broken;
  };
  for (const bind of [sessionBind(false), sessionBind(true), failedBind(sessionBind(false))]) {
    const c = await RawClient.connect(agent.sock);
    await c.request(bind);
    for (const readerId of ['pkcs11:token=nope?module-path=' + SOFTHSM_MODULE, SOFTHSM_MODULE]) {
      const r = await c.request(encodeAddSmartcardRequest({ readerId, pin: Buffer.from(tok.pin), constraints: [] }), 60_000);
      assert.deepEqual([...r], [SSH_AGENT_FAILURE], 'no reason, nothing loaded');
    }
    c.end();
  }
  // Refused by the agent's one sender check (src/agent/trust.ts), before the handler runs.
  await agent.waitForLog(`extension "${ADD_SMARTCARD_EXTENSION}" is not allowed on a connection bound to an ssh session`);
  await agent.waitForLog(`extension "${ADD_SMARTCARD_EXTENSION}" is not allowed on a forwarded connection`);
  // The agent lists the extension, and a bare extension with no body is refused, not a crash.
  const q = await RawClient.connect(agent.sock);
  const names = await q.request(new SshWriter().uint8(27).string('query').toBuffer());
  assert.ok(names.includes(Buffer.from(ADD_SMARTCARD_EXTENSION)));
  assert.equal((await q.request(new SshWriter().uint8(27).string(ADD_SMARTCARD_EXTENSION).toBuffer()))[0], 28, 'a known extension that fails: SSH_AGENT_EXTENSION_FAILURE');
  assert.equal((await q.request(Buffer.of(11)))[0], 12, 'the connection still answers');
  q.end();
  assert.equal(countAdds(), addsBefore, 'nothing was loaded from a bound connection');
});

test("OpenSSH's ssh-agent gets the standard message: keys load, a refusal says it gave no reason", async (t) => {
  const sock = path.join(dir, 'openssh.sock');
  const agentProc = spawn('ssh-agent', ['-D', '-a', sock], { env: { ...tok.env }, stdio: 'ignore' });
  t.after(async () => {
    agentProc.kill('SIGTERM');
    await new Promise((r) => agentProc.once('exit', r));
  });
  const until = Date.now() + 10_000;
  while (!(await connects(sock))) {
    assert.ok(Date.now() < until, 'ssh-agent did not start');
    await new Promise((r) => setTimeout(r, 25));
  }
  const ok = add([SOFTHSM_MODULE], tok.pin, sock);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, `added keys from ${SOFTHSM_MODULE}\n`);
  expectFailure(
    add([`pkcs11:token=tt?module-path=${SOFTHSM_MODULE}`], tok.pin, sock),
    1,
    `tt-agent: the agent refused to add keys from ${SOFTHSM_MODULE}`,
    /It gives no reason/,
  );
});

test('a locked agent: said before the PIN prompt, with how to unlock', async () => {
  const askpass = path.join(dir, 'lockpass.sh');
  fs.writeFileSync(askpass, "#!/bin/sh\necho lockword\n", { mode: 0o700 });
  const env = { ...tok.env, SSH_AUTH_SOCK: agent.sock, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  assert.equal(spawnSync('ssh-add', ['-x'], { env, stdio: 'ignore' }).status, 0);
  try {
    const r = add([SOFTHSM_MODULE]);
    expectFailure(r, 1, 'tt-agent: the agent is locked; it adds no keys until unlocked', /ssh-add -X/);
    assert.ok(!askedForPin());
  } finally {
    assert.equal(spawnSync('ssh-add', ['-X'], { env, stdio: 'ignore' }).status, 0);
  }
});
