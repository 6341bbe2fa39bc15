// Keys offered per host: with eight keys in the agent, ssh offers them in order and a server
// with MaxAuthTries 3 gives up before the one it accepts; a `Host` block of the configuration
// that picks that key for the server (by its known_hosts name or its host key fingerprint)
// makes the same login succeed, while `ssh-add -l` still lists all eight. A configuration with
// bad lines stops the agent's start, naming each line. Needs `npm run build` first.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startAgent, TT_AGENT_BIN, type RunningAgent } from '../helpers/agent';
import { run, sshLogin, startSshd, type Sshd } from '../helpers/sshd';

let dir: string;
let sshd: Sshd;
let agent: RunningAgent;
let configFile: string;
const keys: { path: string; pub: string; fingerprint: string }[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-per-host-'));
  for (let i = 1; i <= 8; i++) {
    const p = path.join(dir, `id_${i}`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `key-${i}`, '-f', p]);
    const pub = fs.readFileSync(`${p}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${p}.pub`], { encoding: 'utf8' }).split(' ')[1];
    keys.push({ path: p, pub, fingerprint });
  }
  // Only the last key is authorized: ssh reaches it only after seven failures.
  sshd = await startSshd({ authorizedKeys: [keys[7].pub], config: ['MaxAuthTries 3'] });
  configFile = path.join(dir, 'config', 'tt-agent', 'config');
  fs.mkdirSync(path.dirname(configFile), { recursive: true });
  agent = await startAgent({ env: { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'config') } });
  for (const k of keys) {
    const r = await run('ssh-add', [k.path], { env: agent.env });
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await agent?.stop();
  await sshd?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function writeConfig(lines: string[]): void {
  fs.writeFileSync(configFile, [`known-hosts ${sshd.knownHostsFile}`, ...lines, ''].join('\n'));
}

// No IdentityFile: ssh offers what the agent lists, in its order.
const login = () => sshLogin(sshd, { agentSock: agent.sock, command: 'echo in' });

test('eight keys and MaxAuthTries 3: the login fails with too many authentication failures', async () => {
  writeConfig([]);
  const r = await login();
  assert.notEqual(r.code, 0);
  assert.match(r.stderr + sshd.log(), /Too many authentication failures/);
});

test('a Host block naming the server (known_hosts name without the port) offers only its key: the login succeeds', async () => {
  writeConfig(['Host other.example', '  keys key-1', 'Host 127.0.0.1', '  keys key-8']);
  const r = await login();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'in');
  await agent.waitForLog(new RegExp(`offering 1 of 8 keys to \\[127\\.0\\.0\\.1\\]:${sshd.port} \\(${configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4\\)`));
  // ssh-add -l is not bound to any host: it sees all eight.
  const list = await run('ssh-add', ['-l'], { env: agent.env });
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout.trim().split('\n').length, 8);
});

test('a Host block by host key fingerprint, picking keys by fingerprint, works the same', async () => {
  const hostFp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', '-'], { input: `${sshd.hostKeyPub}\n`, encoding: 'utf8' }).split(' ')[1];
  writeConfig([`Host ${hostFp}`, `  keys ${keys[7].fingerprint}`]);
  const r = await login();
  assert.equal(r.code, 0, r.stderr);
});

test('a Host block that does not match this server changes nothing', async () => {
  writeConfig(['Host *.example !127.0.0.1', '  keys key-8']);
  const r = await login();
  assert.notEqual(r.code, 0);
});

test('a configuration with bad lines: the agent does not start and names every bad line', async () => {
  const bad = path.join(dir, 'bad', 'tt-agent', 'config');
  fs.mkdirSync(path.dirname(bad), { recursive: true });
  fs.writeFileSync(bad, ['notify maybe', 'Key key-1', '  confirm sometimes', '  keys key-2', 'Host', 'frobnicate yes', ''].join('\n'));
  const sock = path.join(dir, 'bad.sock');
  const r = await run(process.execPath, [TT_AGENT_BIN, '-D', '-a', sock], { env: { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'bad') }, timeoutMs: 20_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  for (const want of [
    `${bad}:1: notify takes yes or no`,
    `${bad}:3: confirm: unknown value "sometimes"`,
    `${bad}:4: keys belongs in a Host block`,
    `${bad}:5: Host needs one or more host patterns`,
    `${bad}:6: unknown keyword "frobnicate"`,
  ]) {
    assert.ok(r.stderr.includes(want), `${want}\nnot in:\n${r.stderr}`);
  }
  assert.match(r.stderr, /man tt-agent-config/);
  assert.equal(fs.existsSync(sock), false);

  // eval $(tt-agent): the starter says the same in the user's shell, and starts nothing.
  const runtime = fs.mkdtempSync(path.join(dir, 'runtime-'));
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'bad'), XDG_RUNTIME_DIR: runtime };
  delete env.SSH_AUTH_SOCK;
  const started = await run(process.execPath, [TT_AGENT_BIN, '-s'], { env, timeoutMs: 20_000 });
  assert.equal(started.code, 1, started.stderr);
  assert.equal(started.stdout, '');
  assert.ok(started.stderr.includes(`${bad}:3: confirm: unknown value "sometimes"`), started.stderr);
  assert.equal(fs.existsSync(path.join(runtime, 'tt-agent', 'agent.sock')), false);
});
