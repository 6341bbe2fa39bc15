// Desktop notifications of key uses (configuration `notify yes`), judged on a private session
// bus (dbus-run-session) where a small fake notification server records every
// org.freedesktop.Notifications.Notify call: one per use, naming key, class, destination and
// requester; the same use again within notify-interval is held back and counted in the next
// one. Without a bus the logins work just the same. Needs `npm run build` first.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, startAgent, waitForLogText, type RunningAgent } from '../helpers/agent';
import { killAndWait, run, sshLogin, startSshd, type Sshd } from '../helpers/sshd';
import { makeFileKeys, type FileKey } from './file-keys';

let dir: string;
let sshd: Sshd;
let keys: Record<string, FileKey>;
let cleanupKeys: () => void;
let bus: ChildProcess;
let busAddress = '';
let records: string;

before(async () => {
  const made = makeFileKeys();
  keys = made.keys;
  cleanupKeys = made.cleanup;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-notify-'));
  records = path.join(dir, 'notify.jsonl');
  sshd = await startSshd({ authorizedKeys: Object.values(keys).map((k) => k.pub) });
  const server = path.join(REPO_ROOT, 'test', 'fixtures', 'fake-notifications.py');
  // The system's python3: it has the GObject bindings (python3-gi).
  bus = spawn('dbus-run-session', ['--', '/usr/bin/python3', server, records], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  bus.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  bus.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  await waitForLogText(() => out, /\n/, 15_000).catch(() => {
    throw new Error(`the fake notification server did not start:\n${err}`);
  });
  busAddress = out.trim();
});
after(async () => {
  if (bus) {
    // The server quits when its input closes; dbus-run-session then ends its bus daemon, which
    // holds our pipes: killing dbus-run-session instead would leave the daemon (and this test) running.
    const exited = new Promise<void>((r) => (bus.exitCode !== null ? r() : bus.once('exit', () => r())));
    bus.stdin!.end();
    const timer = setTimeout(() => void killAndWait(bus, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    bus.stdout!.destroy();
    bus.stderr!.destroy();
  }
  await sshd?.stop();
  cleanupKeys?.();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function agentWith(env: NodeJS.ProcessEnv, config: string[]): Promise<RunningAgent> {
  const home = fs.mkdtempSync(path.join(dir, 'config-'));
  fs.mkdirSync(path.join(home, 'tt-agent'));
  fs.writeFileSync(path.join(home, 'tt-agent', 'config'), [`known-hosts ${sshd.knownHostsFile}`, ...config, ''].join('\n'));
  const agent = await startAgent({ env: { ...process.env, ...env, XDG_CONFIG_HOME: home } });
  for (const k of [keys.ed25519, keys.ecdsa256]) {
    const r = await run('ssh-add', [k.path], { env: agent.env });
    assert.equal(r.code, 0, r.stderr);
  }
  return agent;
}

const notified = (): any[] => (fs.existsSync(records) ? fs.readFileSync(records, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);

test('notify yes: a Notify call per use on the session bus, the same use again held back and counted', async (t) => {
  const agent = await agentWith({ DBUS_SESSION_BUS_ADDRESS: busAddress }, ['notify yes']);
  t.after(() => agent.stop());
  const login = (k: FileKey) => sshLogin(sshd, { agentSock: agent.sock, identityFile: k.pubPath, command: 'true' });

  assert.equal((await login(keys.ed25519)).code, 0);
  await waitForLogText(() => JSON.stringify(notified()), /Key used/, 10_000);
  const [first] = notified();
  assert.equal(first.app, 'tt-agent');
  assert.equal(first.summary, 'Key used: ssh-login');
  const lines = first.body.split('\n');
  assert.match(lines[0], new RegExp(`^${os.userInfo().username}@\\[127\\.0\\.0\\.1\\]:${sshd.port} \\(SHA256:`));
  assert.match(lines[1], /^key ssh-ed25519 SHA256:\S+ "test-ed25519"$/);
  assert.equal(lines[2], 'local');
  assert.match(lines[3], /^by ssh .* \(\d+\) ← node /);

  // The same login twice more at once: within notify-interval (30 s), so not shown...
  assert.equal((await login(keys.ed25519)).code, 0);
  assert.equal((await login(keys.ed25519)).code, 0);
  // ...but counted in the next notification, of another key.
  assert.equal((await login(keys.ecdsa256)).code, 0);
  await waitForLogText(() => String(notified().length), '2', 10_000);
  const second = notified()[1];
  assert.match(second.body, /key ecdsa-sha2-nistp256 .*"test-ecdsa256"/);
  assert.match(second.body, /\(\+2 more uses not shown\)$/);
  assert.equal(notified().length, 2);
});

test('notify yes without a session bus: logins work, the log says once why nothing was shown', async (t) => {
  const before = notified().length;
  const agent = await agentWith({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${path.join(dir, 'no-bus')}` }, ['notify yes', 'notify-interval 0']);
  t.after(() => agent.stop());
  for (let i = 0; i < 2; i++) {
    const r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: keys.ed25519.pubPath, command: 'echo in' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'in');
  }
  await agent.waitForLog(/warn: desktop notification not shown: gdbus call failed: /);
  assert.equal(agent.log().match(/warn: desktop notification not shown/g)!.length, 1);
  assert.equal(notified().length, before);
});

test('notify no (the default): no Notify call', async (t) => {
  const before = notified().length;
  const agent = await agentWith({ DBUS_SESSION_BUS_ADDRESS: busAddress }, []);
  t.after(() => agent.stop());
  const r = await sshLogin(sshd, { agentSock: agent.sock, identityFile: keys.ed25519.pubPath });
  assert.equal(r.code, 0, r.stderr);
  await agent.waitForLog('key use: signed ssh-login');
  // A notification would be spawned in the same turn as the log line; gdbus answers in ms.
  const probe = spawn('gdbus', ['call', '--session', '--dest', 'org.freedesktop.Notifications', '--object-path', '/org/freedesktop/Notifications', '--method', 'org.freedesktop.Notifications.GetServerInformation'], { env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: busAddress } });
  await new Promise((r) => probe.on('exit', r));
  assert.equal(notified().length, before);
});
