// `tt-agent add -h DEST -H FILE`, judged by OpenSSH: the constrained ADD_SMARTCARD_KEY message
// must be byte for byte what `ssh-add -h ... -s MODULE` sends (both captured by a recording
// socket), and a token key restricted to 127.0.0.1 must log in to the loopback sshd through
// tt-agent while one restricted to another host must not. Needs `npm run build` first.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'node:test';
import { decodeRequest } from '../../src/protocol/agent-messages';
import { agentEnv, startAgent, TT_AGENT_BIN } from '../helpers/agent';
import { makeToken, SOFTHSM_MODULE, USER_PIN } from '../helpers/softhsm';
import { run, sshLogin, startSshd } from '../helpers/sshd';

const SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED = 26;
const SSH_AGENT_SUCCESS = Buffer.from([0, 0, 0, 1, 6]);

/** A socket that records every agent message and answers SSH_AGENT_SUCCESS to each. */
async function startRecorder(sock: string): Promise<{ frames: Buffer[]; close(): Promise<void> }> {
  const frames: Buffer[] = [];
  const server = net.createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        frames.push(buf.subarray(4, 4 + buf.readUInt32BE(0)));
        buf = buf.subarray(4 + buf.readUInt32BE(0));
        c.write(SSH_AGENT_SUCCESS);
      }
    });
    c.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  return { frames, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function tempDir(t: test.TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-add-dest-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function askpassEnv(dir: string, sock: string): NodeJS.ProcessEnv {
  const askpass = path.join(dir, 'askpass.sh');
  fs.writeFileSync(askpass, `#!/bin/sh\nprintf '%s\\n' '${USER_PIN}'\n`, { mode: 0o700 });
  return agentEnv(sock, { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' });
}

function newHostKey(dir: string, name: string, type = 'ed25519'): string {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  return fs.readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
}

test('tt-agent add -h/-H sends the same ADD_SMARTCARD_KEY_CONSTRAINED bytes as ssh-add -h/-H -s', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'rec.sock');
  const rec = await startRecorder(sock);
  t.after(rec.close);
  const env = askpassEnv(dir, sock);

  const a = newHostKey(dir, 'a');
  const a2 = newHostKey(dir, 'a2', 'ecdsa');
  const b = newHostKey(dir, 'b', 'rsa');
  const ca = newHostKey(dir, 'ca');
  const revoked = newHostKey(dir, 'revoked');
  const plain = path.join(dir, 'known_hosts');
  fs.writeFileSync(
    plain,
    [
      '# two files, comments, patterns, a CA and a revoked key',
      `a.example,a-alias.example ${a}`,
      `[a.example]:2222 ${a2}`,
      `*.example,!b.example ${a2}`,
      `@cert-authority *.ca.example ${ca}`,
      `@revoked a.example ${revoked}`,
      `c.other ssh-rsa ${a.split(' ')[1]}`,
      '',
    ].join('\n'),
  );
  const hashed = path.join(dir, 'known_hosts_hashed');
  fs.writeFileSync(hashed, `b.example ${b}\na.example ${b}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
  assert.doesNotMatch(fs.readFileSync(hashed, 'utf8'), /example/);

  const cases: string[][] = [
    ['-H', plain, '-h', 'a.example'],
    ['-H', plain, '-H', hashed, '-h', 'a.example', '-h', 'a.example>bob@b.example', '-h', 'carol@'],
    ['-H', hashed, '-H', plain, '-h', '[a.example]:2222', '-h', 'x.ca.example'],
    ['-t', '600', '-c', '-H', plain, '-h', 'a-alias.example>a.example'],
  ];
  const capture = async (cmd: string, args: string[]): Promise<Buffer> => {
    rec.frames.length = 0;
    const r = await run(cmd, args, { env, timeoutMs: 20_000 });
    assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    const adds = rec.frames.filter((f) => f[0] === SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED);
    assert.equal(adds.length, 1, `${cmd} sent one constrained add`);
    return Buffer.from(adds[0]);
  };
  for (const args of cases) {
    const theirs = await capture('ssh-add', [...args, '-s', SOFTHSM_MODULE]);
    const ours = await capture(process.execPath, [TT_AGENT_BIN, 'add', SOFTHSM_MODULE, ...args]);
    assert.ok(ours.equals(theirs), `same bytes for ${args.join(' ')}\nssh-add:  ${theirs.toString('hex')}\ntt-agent: ${ours.toString('hex')}`);
    // And the bytes say what was asked for, not merely the same wrong thing twice.
    const req = decodeRequest(ours);
    assert.ok(req.type === 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED');
    const rd = req.constraints.find((c) => c.kind === 'restrict-destination');
    assert.ok(rd && rd.kind === 'restrict-destination');
    assert.equal(rd.constraints.length, args.filter((x) => x === '-h').length);
  }

  // Spot-check one decoded structure: revoked keys left out, CA keys flagged, hashed entries found.
  const blob = (line: string) => Buffer.from(line.split(' ')[1], 'base64');
  const two = decodeRequest(await capture(process.execPath, [TT_AGENT_BIN, 'add', SOFTHSM_MODULE, ...cases[1]]));
  assert.ok(two.type === 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED');
  const [rd] = two.constraints;
  assert.ok(rd.kind === 'restrict-destination');
  const aKeys = [a, a2, b].map((k) => ({ keyBlob: blob(k), isCa: false }));
  assert.deepEqual(rd.constraints, [
    { from: { user: '', hostname: '', keys: [] }, to: { user: '', hostname: 'a.example', keys: aKeys } },
    { from: { user: '', hostname: 'a.example', keys: aKeys }, to: { user: 'bob', hostname: 'b.example', keys: [{ keyBlob: blob(b), isCa: false }] } },
    { from: { user: '', hostname: '', keys: [] }, to: { user: 'carol', hostname: '', keys: [] } },
  ]);
  const three = decodeRequest(await capture(process.execPath, [TT_AGENT_BIN, 'add', SOFTHSM_MODULE, ...cases[2]]));
  assert.ok(three.type === 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED' && three.constraints[0].kind === 'restrict-destination');
  // x.ca.example matches the *.example pattern and the CA line.
  assert.deepEqual(three.constraints[0].constraints[1].to.keys, [
    { keyBlob: blob(a2), isCa: false },
    { keyBlob: blob(ca), isCa: true },
  ]);

  // `[host]` means host. (ssh-add 9.x drops only the ']' and looks up "[host", which matches
  // patterns instead of the host's own line: the one place the bytes differ on purpose.)
  const bracketed = decodeRequest(await capture(process.execPath, [TT_AGENT_BIN, 'add', SOFTHSM_MODULE, '-H', hashed, '-h', '[b.example]']));
  assert.ok(bracketed.type === 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED' && bracketed.constraints[0].kind === 'restrict-destination');
  assert.deepEqual(bracketed.constraints[0].constraints[0].to, { user: '', hostname: 'b.example', keys: [{ keyBlob: blob(b), isCa: false }] });

  // Hosts neither knows: both refuse before sending anything; ours says why and what to do in two lines.
  for (const host of ['nowhere.example.net', 'c.other']) {
    rec.frames.length = 0;
    const theirs = await run('ssh-add', ['-H', plain, '-h', host, '-s', SOFTHSM_MODULE], { env });
    assert.notEqual(theirs.code, 0);
    assert.match(theirs.stderr, /No host keys found/);
    const ours = await run(process.execPath, [TT_AGENT_BIN, 'add', SOFTHSM_MODULE, '-H', plain, '-h', host], { env });
    assert.equal(ours.code, 1);
    assert.equal(rec.frames.length, 0, 'nothing reached the agent');
    const lines = ours.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, ours.stderr);
    assert.equal(lines[0], `tt-agent: no host keys found for destination "${host}" in ${plain}`);
    assert.match(lines[1], /ssh-keyscan .* or name a known_hosts file with -H/);
  }
});

test('a token key restricted with tt-agent add -h logs in to that host only', { timeout: 120_000 }, async (t) => {
  const tok = makeToken({ tokens: [{ label: 'dest', keys: [{ kind: 'ed25519', id: '01', label: 'dest-ed25519' }] }] });
  const agent = await startAgent({ env: tok.env });
  const sshd = await startSshd();
  t.after(async () => {
    await agent.stop();
    await sshd.stop();
    tok.cleanup();
  });
  const dir = tempDir(t);
  const env = { ...askpassEnv(dir, agent.sock), SOFTHSM2_CONF: tok.conf };

  // known_hosts as a user makes it: ssh-keyscan, then a plain-name copy hashed by ssh-keygen -H.
  const scan = await run('ssh-keyscan', ['-p', String(sshd.port), '127.0.0.1']);
  assert.equal(scan.code, 0, scan.stderr);
  const scanned = scan.stdout.split('\n').filter((l) => l.startsWith(`[127.0.0.1]:${sshd.port} `));
  assert.ok(scanned.length > 0, scan.stdout);
  const withPort = path.join(dir, 'known_hosts_scan');
  fs.writeFileSync(withPort, `${scanned.join('\n')}\n`);
  const hashed = path.join(dir, 'known_hosts_hashed');
  fs.writeFileSync(hashed, scanned.map((l) => l.replace(`[127.0.0.1]:${sshd.port}`, '127.0.0.1')).join('\n') + '\n');
  execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
  const elsewhere = path.join(dir, 'known_hosts_other');
  fs.writeFileSync(elsewhere, `other.example ${newHostKey(dir, 'other')}\n`);

  const add = async (args: string[]) => {
    const r = await run(process.execPath, [TT_AGENT_BIN, 'add', tok.module, ...args], { env, timeoutMs: 30_000 });
    assert.equal(r.code, 0, `tt-agent add ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /token dest \(serial \S+\): added 1 key/);
    const listed = await run('ssh-add', ['-L'], { env });
    assert.equal(listed.code, 0, listed.stderr);
    const line = listed.stdout.trim();
    const pub = path.join(dir, 'token.pub');
    fs.writeFileSync(pub, `${line}\n`);
    sshd.setAuthorizedKeys([line]);
    return pub;
  };
  const login = (pub: string) => sshLogin(sshd, { agentSock: agent.sock, identityFile: pub, command: 'echo logged-in' });
  const remove = async () => assert.equal((await run('ssh-add', ['-e', tok.module], { env })).code, 0);

  // Restricted to 127.0.0.1 (hashed known_hosts): the login works — ssh binds the session first.
  let pub = await add(['-h', '127.0.0.1', '-H', hashed]);
  await agent.waitForLog('1 destination constraint(s)');
  let r = await login(pub);
  assert.equal(r.code, 0, `${r.stderr}\n${agent.log().slice(-2000)}`);
  assert.equal(r.stdout.trim(), 'logged-in');
  await remove();

  // The keyscan file names the host with its port, so that is the spelling -h takes.
  pub = await add(['-h', `[127.0.0.1]:${sshd.port}`, '-H', withPort]);
  r = await login(pub);
  assert.equal(r.code, 0, `${r.stderr}\n${agent.log().slice(-2000)}`);
  await remove();

  // Restricted to another host: listed locally, yet the agent refuses to sign this login.
  pub = await add(['-h', 'other.example', '-H', elsewhere]);
  r = await login(pub);
  assert.notEqual(r.code, 0, 'login to a host the key is not restricted to must fail');
  assert.doesNotMatch(r.stdout, /logged-in/);
  assert.match(r.stderr, /Permission denied \(publickey\)/);
  // The agent hides the key from the session bound to this sshd, so it is never even offered:
  // sshd accepted exactly the two logins above.
  assert.equal(sshd.log().match(/Accepted publickey/g)?.length, 2, sshd.log());
  assert.match((await run('ssh-add', ['-l'], { env })).stdout, /dest-ed25519 \(ED25519\)/);
  await remove();

  // Unknown host: one line what, one line what next; the agent was never asked.
  const bad = await run(process.execPath, [TT_AGENT_BIN, 'add', tok.module, '-h', '127.0.0.1', '-H', withPort], { env });
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.split('\n')[0], `tt-agent: no host keys found for destination "127.0.0.1" in ${withPort}`);
  assert.match(bad.stderr, new RegExp(`give -h '\\[127\\.0\\.0\\.1\\]:${sshd.port}'`));
  assert.equal((await run('ssh-add', ['-l'], { env })).code, 1, 'no keys in the agent');
});
