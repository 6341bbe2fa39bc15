// Every use of a key, seen from outside: real ssh logins to a loopback sshd, a login through a
// forwarded agent (ssh -A, then ssh on the far side), a git commit signed with an SSH key
// (gpg.format=ssh) — and what `tt-agent status --uses` and the agent log say about each: class,
// user, host (by its known_hosts name), requester and forwarding. Then the per-key policy of
// the configuration file: `confirm forwarded` asks only for the forwarded login, and
// `allow-sshsig` refuses a namespace. Needs `npm run build` first.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startAgent, TT_AGENT_BIN, type RunningAgent } from '../helpers/agent';
import { run, sshArgs, sshLogin, startSshd, type Sshd } from '../helpers/sshd';
import { makeFileKeys, type FileKey } from './file-keys';

let agent: RunningAgent;
let sshd: Sshd;
let keys: Record<string, FileKey>;
let cleanupKeys: () => void;
let dir: string;
let configFile: string;
let promptsFile: string;
let hostName: string;
const user = os.userInfo().username;

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const fp = (pub: string) => {
  const f = path.join(dir, 'fp.pub');
  fs.writeFileSync(f, `${pub}\n`);
  return require('node:child_process').execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', f], { encoding: 'utf8' }).split(' ')[1] as string;
};

before(async () => {
  const made = makeFileKeys();
  keys = made.keys;
  cleanupKeys = made.cleanup;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-uses-'));
  sshd = await startSshd({ authorizedKeys: Object.values(keys).map((k) => k.pub) });
  hostName = `[127.0.0.1]:${sshd.port}`;
  configFile = path.join(dir, 'config', 'tt-agent', 'config');
  fs.mkdirSync(path.dirname(configFile), { recursive: true });
  writeConfig([]);
  // The confirmation program: records each prompt and says yes.
  promptsFile = path.join(dir, 'prompts');
  const askpass = path.join(dir, 'askpass.sh');
  fs.writeFileSync(askpass, `#!/bin/sh\nprintf '%s\\n---\\n' "$1" >> ${shq(promptsFile)}\nexit 0\n`, { mode: 0o700 });
  agent = await startAgent({ env: { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'config'), SSH_ASKPASS: askpass } });
  for (const k of [keys.ed25519, keys.ecdsa256]) {
    const r = await run('ssh-add', [k.path], { env: agent.env });
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await agent?.stop();
  await sshd?.stop();
  cleanupKeys?.();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function writeConfig(lines: string[]): void {
  // The sshd helper's known_hosts names the server `[127.0.0.1]:PORT`: the use log shows that name.
  fs.writeFileSync(configFile, [`known-hosts ${sshd.knownHostsFile}`, ...lines, ''].join('\n'));
}

async function uses(): Promise<any[]> {
  const r = await run(process.execPath, [TT_AGENT_BIN, 'status', '--uses', '--json'], { env: agent.env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).uses;
}

async function usesAfter<T>(action: () => Promise<T>): Promise<{ result: T; added: any[] }> {
  const before = (await uses()).length;
  const result = await action();
  return { result, added: (await uses()).slice(before) };
}

function prompts(): string[] {
  return fs.existsSync(promptsFile) ? fs.readFileSync(promptsFile, 'utf8').split('---\n').filter(Boolean) : [];
}

test('a login: ssh-login with the user, the host by its known_hosts name, and ssh under this process as requester', async () => {
  const { result: r, added } = await usesAfter(() => sshLogin(sshd, { agentSock: agent.sock, identityFile: keys.ed25519.pubPath, command: 'echo in' }));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(added.length, 1, JSON.stringify(added));
  const u = added[0];
  assert.equal(u.outcome, 'signed');
  assert.equal(u.class, 'ssh-login');
  assert.equal(u.user, user);
  assert.equal(u.key.fingerprint, fp(keys.ed25519.pub));
  assert.deepEqual(u.destination, { fingerprint: fp(sshd.hostKeyPub), names: [hostName], from: 'session-bind' });
  assert.equal(u.forwarded, false);
  assert.deepEqual(u.forwardedVia, []);
  assert.match(u.requester.chain[0].command, /^ssh .*-p \d+ .*127\.0\.0\.1 echo in$/);
  assert.ok(u.requester.chain.some((p: any) => p.pid === process.pid), `this test process is in the chain: ${JSON.stringify(u.requester.chain)}`);
  // The agent log has the same, one line.
  await agent.waitForLog(new RegExp(`key use: signed ssh-login ${user}@\\[127\\.0\\.0\\.1\\]:${sshd.port} \\(SHA256:\\S+\\) with ssh-ed25519 SHA256:\\S+ "test-ed25519", local, by ssh .* ← `));
  // And the text form.
  const text = await run(process.execPath, [TT_AGENT_BIN, 'status', '--uses'], { env: agent.env });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  signed ssh-login ${user}@\\[127\\.0\\.0\\.1\\]:${sshd.port} `, 'm'));
});

test('a forwarded login (ssh -A, then ssh on the far side): forwarded via the first host, asked by the local ssh -A', async () => {
  const hop2 = sshArgs(sshd, { identityFile: keys.ecdsa256.pubPath, command: 'echo second-hop' }).map(shq).join(' ');
  const { result: r, added } = await usesAfter(() =>
    sshLogin(sshd, { agentSock: agent.sock, identityFile: keys.ed25519.pubPath, forwardAgent: true, command: `ssh ${hop2}` }),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^second-hop$/m);
  assert.equal(added.length, 2, JSON.stringify(added));
  const [first, second] = added;
  assert.equal(first.forwarded, false);
  assert.equal(first.key.comment, 'test-ed25519');
  assert.equal(second.class, 'ssh-login');
  assert.equal(second.outcome, 'signed');
  assert.equal(second.key.comment, 'test-ecdsa256');
  assert.equal(second.user, user);
  assert.equal(second.forwarded, true);
  assert.deepEqual(second.forwardedVia, [{ fingerprint: fp(sshd.hostKeyPub), names: [hostName] }]);
  assert.deepEqual(second.destination.names, [hostName]);
  // The kernel names the local ssh -A that carries the forwarded channel: the one that logged in first.
  assert.equal(second.requester.pid, first.requester.pid);
  assert.match(second.requester.chain[0].command, /^ssh .*'echo second-hop'$/);
  assert.ok(second.requester.chain.some((p: any) => p.pid === process.pid));
  await agent.waitForLog(/key use: signed ssh-login \S+ \(SHA256:\S+\) with ecdsa-sha2-nistp256 \S+ "test-ecdsa256", forwarded via \[127\.0\.0\.1\]:\d+ \(SHA256:\S+\), by ssh /);
});

test('a git commit signed with an SSH key: sshsig, namespace git, asked by ssh-keygen under git commit', async () => {
  const repo = path.join(dir, 'repo');
  fs.mkdirSync(repo);
  const env = { ...agent.env, GIT_CONFIG_NOSYSTEM: '1', HOME: dir };
  const git = (...args: string[]) => run('git', args, { env, cwd: repo });
  for (const args of [
    ['init', '-q'],
    ['config', 'user.name', 'Test'],
    ['config', 'user.email', 'test@example.invalid'],
    ['config', 'gpg.format', 'ssh'],
    ['config', 'user.signingkey', keys.ed25519.pubPath],
  ]) {
    const r = await git(...args);
    assert.equal(r.code, 0, r.stderr);
  }
  const { result: r, added } = await usesAfter(() => git('commit', '--allow-empty', '-S', '-m', 'signed'));
  assert.equal(r.code, 0, r.stderr);
  assert.match((await git('cat-file', '-p', 'HEAD')).stdout, /-----BEGIN SSH SIGNATURE-----/);
  assert.equal(added.length, 1, JSON.stringify(added));
  const u = added[0];
  assert.equal(u.class, 'sshsig');
  assert.equal(u.namespace, 'git');
  assert.match(u.hashAlgorithm, /^sha(256|512)$/);
  assert.equal(u.user, undefined);
  assert.match(u.requester.chain[0].command, /^ssh-keygen -Y sign -n git /);
  assert.match(u.requester.chain[1].command, /^git commit /);
});

test('confirm forwarded: the local login is not asked, the forwarded one is, with key, class, destination and requester', async () => {
  writeConfig(['Key test-ecdsa256', '  confirm forwarded']);
  fs.rmSync(promptsFile, { force: true });
  const local = await sshLogin(sshd, { agentSock: agent.sock, identityFile: keys.ecdsa256.pubPath });
  assert.equal(local.code, 0, local.stderr);
  assert.deepEqual(prompts(), [], 'no question for the local login');

  const hop2 = sshArgs(sshd, { identityFile: keys.ecdsa256.pubPath, command: 'echo second-hop' }).map(shq).join(' ');
  const { result: r, added } = await usesAfter(() =>
    sshLogin(sshd, { agentSock: agent.sock, identityFile: keys.ecdsa256.pubPath, forwardAgent: true, command: `ssh ${hop2}` }),
  );
  assert.equal(r.code, 0, r.stderr);
  const asked = prompts();
  assert.equal(asked.length, 1, asked.join('\n'));
  const lines = asked[0].trim().split('\n');
  assert.equal(lines[0], `Allow ssh-login ${user}@${hostName} (${fp(sshd.hostKeyPub)})?`);
  assert.equal(lines[1], `Key: ecdsa-sha2-nistp256 ${fp(keys.ecdsa256.pub)} "test-ecdsa256"`);
  assert.equal(lines[2], `From: forwarded via ${hostName} (${fp(sshd.hostKeyPub)})`);
  assert.match(lines[3], /^Requested by: ssh .*'echo second-hop' \(\d+\) ← node /);
  assert.deepEqual(added.map((u) => u.confirmation), [undefined, 'asked']);
  writeConfig([]);
});

test('confirm forwarded with a "no": the forwarded login is refused and the refusal is in the use log', async () => {
  writeConfig(['Key test-ecdsa256', '  confirm forwarded']);
  // The agent's SSH_ASKPASS is fixed at start: point the recording script at a refusal instead.
  const askpass = path.join(dir, 'askpass.sh');
  const yes = fs.readFileSync(askpass, 'utf8');
  fs.writeFileSync(askpass, `#!/bin/sh\nexit 1\n`, { mode: 0o700 });
  try {
    const hop2 = sshArgs(sshd, { identityFile: keys.ecdsa256.pubPath, command: 'echo second-hop' }).map(shq).join(' ');
    const { result: r, added } = await usesAfter(() =>
      sshLogin(sshd, { agentSock: agent.sock, identityFile: keys.ed25519.pubPath, forwardAgent: true, command: `ssh ${hop2}` }),
    );
    assert.notEqual(r.code, 0);
    const refused = added.find((u) => u.outcome === 'refused');
    assert.ok(refused, JSON.stringify(added));
    assert.equal(refused.forwarded, true);
    assert.match(refused.reason, /not confirmed/);
  } finally {
    fs.writeFileSync(askpass, yes, { mode: 0o700 });
    writeConfig([]);
  }
});

test('allow-sshsig: a namespace not listed is refused, the listed one signs', async () => {
  writeConfig(['Key test-ed25519', '  allow-sshsig file']);
  try {
    const msg = path.join(dir, 'msg.txt');
    fs.writeFileSync(msg, 'hello\n');
    const sign = (ns: string) => run('ssh-keygen', ['-Y', 'sign', '-n', ns, '-f', keys.ed25519.pubPath, msg], { env: agent.env });
    const { result: denied, added } = await usesAfter(() => sign('git'));
    assert.notEqual(denied.code, 0);
    assert.equal(added.length, 1);
    assert.equal(added[0].outcome, 'refused');
    assert.equal(added[0].namespace, 'git');
    assert.match(added[0].reason, /may not sign SSHSIG namespace "git" \(allow-sshsig: only file\)/);
    fs.rmSync(`${msg}.sig`, { force: true });
    const ok = await sign('file');
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    writeConfig([]);
  }
});

test('remember yes: asked once per key and host, asked again after the agent was locked', async () => {
  writeConfig(['Key test-ed25519', '  confirm always', '  remember yes']);
  fs.rmSync(promptsFile, { force: true });
  try {
    const login = () => sshLogin(sshd, { agentSock: agent.sock, identityFile: keys.ed25519.pubPath });
    const { added } = await usesAfter(async () => {
      for (let i = 0; i < 2; i++) assert.equal((await login()).code, 0);
    });
    assert.deepEqual(added.map((u) => u.confirmation), ['asked', 'remembered']);
    assert.equal(prompts().length, 1);

    // ssh-add -x / -X read the passphrase through their own askpass.
    const pass = path.join(dir, 'lockpass.sh');
    fs.writeFileSync(pass, '#!/bin/sh\necho lock-pass\n', { mode: 0o700 });
    const env = { ...agent.env, SSH_ASKPASS: pass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
    assert.equal((await run('ssh-add', ['-x'], { env })).code, 0);
    assert.equal((await run('ssh-add', ['-X'], { env })).code, 0);
    assert.equal((await login()).code, 0);
    assert.equal(prompts().length, 2, 'asked again after the lock');
  } finally {
    writeConfig([]);
  }
});

test('the requester chain ends at the leader of the client session: nothing above the user’s shell', async () => {
  const ssh = ['ssh', ...sshArgs(sshd, { agentSock: agent.sock, identityFile: keys.ed25519.pubPath, command: 'true' })].map(shq).join(' ');
  // setsid: the sh is the session leader, as a terminal's shell is.
  const { result: r, added } = await usesAfter(() => run('setsid', ['-w', 'sh', '-c', `${ssh}; true`]));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(added.length, 1);
  const chain = added[0].requester.chain;
  assert.deepEqual(chain.map((p: any) => p.command.split(' ')[0]), ['ssh', 'sh'], JSON.stringify(chain));
  assert.match(chain[1].command, /^sh -c /);
});
