// `tt-agent status` against a real agent with a SoftHSM token loaded through the module host:
// what a user sees after "agent refused operation" — no agent, a token and its keys, a wrong
// PIN with the CKR_* name and the PIN counter flags, a module outside the allowlist, a locked
// agent, a crashed module host. Needs `npm run build` first (the tests run bin/tt-agent).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { startAgent, TT_AGENT_BIN, type RunningAgent } from '../helpers/agent';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { run } from '../helpers/sshd';

interface Setup {
  tok: TestToken;
  agent: RunningAgent;
  env: NodeJS.ProcessEnv;
  askpass(pin: string): NodeJS.ProcessEnv;
}

async function setup(t: test.TestContext): Promise<Setup> {
  const tok = makeToken();
  const agent = await startAgent({ env: tok.env });
  t.after(async () => {
    await agent.stop();
    tok.cleanup();
  });
  const env = { ...agent.env, SOFTHSM2_CONF: tok.conf, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  const askpass = (pin: string) => {
    const file = path.join(tok.dir, `askpass-${pin}.sh`);
    fs.writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' '${pin}'\n`, { mode: 0o700 });
    return { ...env, SSH_ASKPASS: file };
  };
  return { tok, agent, env, askpass };
}

const ttAgent = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [TT_AGENT_BIN, ...args], { env, timeoutMs: 60_000 });

async function statusJson(env: NodeJS.ProcessEnv): Promise<any> {
  const r = await ttAgent(['status', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('no agent: one line naming the socket and how to start one, exit 1', async () => {
  const sock = path.join(fs.mkdtempSync('/tmp/tt-status-'), 'none.sock');
  const r = await ttAgent(['status'], { ...process.env, SSH_AUTH_SOCK: sock });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^tt-agent: no agent at ${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(ENOENT\\)\\.\n  Start one with: eval \\$\\(tt-agent\\)\n$`));
  fs.rmSync(path.dirname(sock), { recursive: true, force: true });
});

test('a loaded token: module realpath, live host, token logged in, every key with its fingerprint; file keys apart', { timeout: 120_000 }, async (t) => {
  const { tok, agent, env, askpass } = await setup(t);
  assert.equal((await ttAgent(['add', tok.module], askpass(tok.pin))).code, 0);
  const keyFile = path.join(tok.dir, 'id_ed25519');
  assert.equal((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'file-key', '-f', keyFile])).code, 0);
  assert.equal((await run('ssh-add', [keyFile], { env })).code, 0);

  const s = await statusJson(env);
  assert.equal(s.pid, agent.pid);
  assert.equal(s.locked, false);
  assert.equal(s.identities, 9);
  const real = fs.realpathSync(tok.module);
  assert.equal(s.modules.length, 1);
  const m = s.modules[0];
  assert.equal(m.modulePath, real);
  assert.equal(m.host.running, true);
  assert.ok(fs.existsSync(`/proc/${m.host.pid}`), 'the reported host pid is a live process');
  assert.notEqual(m.host.pid, agent.pid);
  const tokenView = m.tokens.find((x: any) => x.token === 'tt-test');
  assert.equal(tokenView.present, true);
  assert.equal(tokenView.loggedIn, true);
  assert.equal(tokenView.pinTries, 'ok');
  assert.equal(tokenView.added, 8);
  // The fingerprints are those ssh-add -l prints for the same keys.
  const list = (await run('ssh-add', ['-l'], { env })).stdout;
  // ssh-add -l shows OpenSSH's comment: the label, or for the certificate-only key its subject.
  const comment = (label: string) => (label === 'cert-only' ? '/CN=cert-only' : label);
  for (const k of tokenView.keys) assert.match(list, new RegExp(`${k.fingerprint.replace(/[+/]/g, '\\$&')} ${comment(k.label)} `));
  assert.deepEqual(tokenView.keys.map((k: any) => k.label).sort(), ['cert-only', 'ed25519', 'mismatch', 'p256', 'p384', 'p521', 'rsa2048', 'rsa3072']);
  assert.deepEqual(s.keys.filter((k: any) => k.source === 'file').map((k: any) => k.comment), ['file-key']);
  assert.equal(s.loadReports.at(-1).modulePath, real);
  assert.equal(s.loadReports.at(-1).error, undefined);

  const text = await ttAgent(['status'], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^tt-agent \\S+  pid ${agent.pid}  uid \\d+  up `));
  assert.match(text.stdout, /^ {2}lock +unlocked$/m);
  assert.match(text.stdout, /^ {2}keys +9 \(8 on tokens, 1 from files\)$/m);
  assert.match(text.stdout, new RegExp(`^module ${real.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}  \\(loaded `, 'm'));
  assert.match(text.stdout, new RegExp(`^ {2}host +pid ${m.host.pid}, running, 0 restarts$`, 'm'));
  assert.match(text.stdout, /^ {4}state +present, logged in$/m);
  assert.match(text.stdout, /^ {4}ssh-ed25519 +SHA256:\S+ +ed25519\b/m);
  assert.match(text.stdout, /^file keys$\n.*\n {2}ssh-ed25519 +SHA256:\S+ +file-key$/m);
});

test('a wrong PIN: the failed load and the token error carry CKR_PIN_INCORRECT and the PIN counter state', { timeout: 120_000 }, async (t) => {
  const { tok, env, askpass } = await setup(t);
  // Not loaded before: the module is not kept, but the load and the token's error are.
  assert.equal((await ttAgent(['add', tok.module], askpass('000000'))).code, 1);
  let s = await statusJson(env);
  const real = fs.realpathSync(tok.module);
  assert.equal(s.modules.length, 0);
  const failed = s.loadReports.at(-1);
  assert.equal(failed.modulePath, real);
  assert.match(failed.error, /no usable keys/);
  assert.equal(failed.tokens[0].error.ckr, 'CKR_PIN_INCORRECT');
  assert.doesNotMatch(JSON.stringify(s), /000000/, 'the PIN never appears in the status');
  assert.deepEqual(
    s.tokenErrors.map((e: any) => [e.token, e.ckr]),
    [['tt-test', 'CKR_PIN_INCORRECT']],
  );
  let text = (await ttAgent(['status'], env)).stdout;
  assert.match(text, /^last errors of tokens not loaded now\n {2}\S+ \S+ +token tt-test +\S+ +CKR_PIN_INCORRECT: PIN incorrect for token tt-test/m);
  assert.match(text, /FAILED +token tt-test: CKR_PIN_INCORRECT/);

  // Loaded without a PIN (public keys), then a wrong PIN: the live host shows the counter flags.
  assert.equal((await ttAgent(['add', '--no-pin', tok.module], env)).code, 0);
  assert.equal((await ttAgent(['add', tok.module], askpass('111111'))).code, 1);
  s = await statusJson(env);
  const tv = s.modules[0].tokens[0];
  assert.equal(tv.loggedIn, false);
  assert.equal(tv.lastError.ckr, 'CKR_PIN_INCORRECT');
  assert.ok(tv.pinFlags.includes('CKF_USER_PIN_COUNT_LOW'), JSON.stringify(tv));
  assert.equal(tv.pinTries, 'count low');
  text = (await ttAgent(['status'], env)).stdout;
  assert.match(text, /^ {4}state +present, not logged in$/m);
  assert.match(text, /^ {4}PIN +a wrong PIN was entered: few tries left \(CKF_USER_PIN_COUNT_LOW\)$/m);
  assert.match(text, /^ {4}last error +CKR_PIN_INCORRECT: PIN incorrect for token tt-test/m);
});

test('a module outside the allowlist: the refusal names the realpath and the allowlist', { timeout: 60_000 }, async (t) => {
  const { tok, env, askpass } = await setup(t);
  const outside = path.join(tok.dir, 'lib', 'module.so');
  fs.mkdirSync(path.dirname(outside));
  fs.copyFileSync(tok.module, outside);
  const link = path.join(tok.dir, 'link.so');
  fs.symlinkSync(outside, link);
  // tt-agent add refuses this before asking for the PIN (it reads the allowlist from status);
  // ssh-add sends it, and the agent's refusal is what status must record.
  const ours = await ttAgent(['add', link], askpass(tok.pin));
  assert.equal(ours.code, 1);
  assert.match(ours.stderr, /is not in the agent's allowlist/);
  assert.equal((await statusJson(env)).refusals.length, 0, 'refused before anything reached the agent');
  assert.notEqual((await run('ssh-add', ['-s', link], { env: askpass(tok.pin) })).code, 0);
  const s = await statusJson(env);
  const r = s.refusals.at(-1);
  assert.equal(r.requested, link);
  assert.equal(r.realPath, outside);
  assert.match(r.reason, /not in the allowlist \/usr\/lib\*\/\*,/);
  assert.equal(s.loadReports.length, 0, 'no provider ever saw the module');
  const text = (await ttAgent(['status'], env)).stdout;
  assert.match(text, new RegExp(`^refused module loads \\(newest last\\)\n {2}\\S+ \\S+  ${link.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(realpath ${outside.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)\n {6}refusing to load: module \\S+ is not in the allowlist`, 'm'));
});

test('locked agent: said so, keys hidden; a killed module host: not running, crash recorded', { timeout: 120_000 }, async (t) => {
  const { tok, env, askpass } = await setup(t);
  assert.equal((await ttAgent(['add', tok.module], askpass(tok.pin))).code, 0);
  const hostPid = (await statusJson(env)).modules[0].host.pid;

  // ssh-add -x asks for the passphrase twice, here both times through SSH_ASKPASS.
  const lockEnv = askpass('lockpw');
  assert.equal((await run('ssh-add', ['-x'], { env: lockEnv })).code, 0);
  let s = await statusJson(env);
  // Locked: "locked" and nothing else, not even the module paths or token serials.
  assert.deepEqual(s, { socket: env.SSH_AUTH_SOCK, agent: 'tt-agent', locked: true });
  const lockedText = (await ttAgent(['status'], env)).stdout;
  assert.equal(lockedText, `tt-agent at ${env.SSH_AUTH_SOCK}: LOCKED: lists no keys, signs nothing and shows no status (unlock with: ssh-add -X)\n`);
  assert.equal((await run('ssh-add', ['-X'], { env: lockEnv })).code, 0);
  assert.equal((await statusJson(env)).locked, false);

  process.kill(hostPid, 'SIGKILL');
  const until = Date.now() + 10_000;
  do {
    s = await statusJson(env);
    if (!s.modules[0].host.running) break;
    await new Promise((r) => setTimeout(r, 100));
  } while (Date.now() < until);
  assert.equal(s.modules[0].host.running, false);
  assert.match(s.modules[0].host.lastCrash, /died \(SIGKILL\)/);
  const text = (await ttAgent(['status'], env)).stdout;
  assert.match(text, /^ {2}host +not running \(it starts again on the next signature\), 0 restarts$/m);
  assert.match(text, /^ {2}last crash +\S+ module host for \S+ died \(SIGKILL\)$/m);
});
