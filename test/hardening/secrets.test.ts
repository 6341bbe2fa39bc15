// PINs and lock passphrases never show up where other processes or the log could see them:
// not in the agent's log, not in any process's argv or environment (agent and module hosts),
// not in error messages or the status report. A token with a distinctive PIN is loaded
// through ssh-add and tt-agent add, wrong PINs and wrong unlock passphrases are tried, a module
// host is killed so that the agent logs in again by itself, and then everything is searched
// for the secrets in plain, hex and base64 form.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startAgent, TT_AGENT_BIN } from '../helpers/agent';
import { makeToken, SOFTHSM_MODULE } from '../helpers/softhsm';
import { run, type RunResult } from '../helpers/sshd';
import { SshReader, SshWriter } from '../../src/protocol/wire';
import { openTempDir, RawClient, SSH_AGENTC_EXTENSION } from './helpers';

const PIN = 'Pin-7q3Zx9-kW4';
const WRONG_PIN = 'WrongPin-4711-zQ';
const LOCK = 'LockPass-8842-qX';
const WRONG_LOCK = 'BadUnlock-1337-vK';
const SECRETS = [PIN, WRONG_PIN, LOCK, WRONG_LOCK];

function forms(secret: string): string[] {
  const b = Buffer.from(secret);
  return [secret, b.toString('hex'), b.toString('base64').replace(/=+$/, ''), JSON.stringify(secret).slice(1, -1)];
}

function assertClean(where: string, text: string): void {
  for (const s of SECRETS) for (const f of forms(s)) assert.ok(!text.includes(f), `${where} contains a secret (${JSON.stringify(f)})`);
}

/** Direct children of `pid`: the module hosts. */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

function procText(pid: number, file: 'cmdline' | 'environ'): string {
  return fs.readFileSync(`/proc/${pid}/${file}`).toString('latin1').replace(/\0/g, '\n');
}

test('PINs and lock passphrases appear in no log, argv, environment, error message or status', { timeout: 120_000 }, async (t) => {
  const tok = makeToken({ tokens: [{ label: 'secret', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'secret-p256' }] }], setEnv: false });
  const work = openTempDir('tt-secrets-');
  t.after(() => {
    tok.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  });
  tok.pkcs11Tool(['--login', '--pin', tok.pin, '--change-pin', '--new-pin', PIN]);

  const agent = await startAgent({ env: tok.env });
  t.after(() => agent.stop());
  const askpass = path.join(work, 'askpass');
  const answer = (secret: string) => fs.writeFileSync(askpass, `#!/bin/sh\nprintf '%s\\n' '${secret}'\n`, { mode: 0o755 });
  const env = { ...agent.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  const outputs: [string, RunResult][] = [];
  const step = async (what: string, cmd: string, args: string[], secret: string, ok: boolean) => {
    answer(secret);
    const r = await run(cmd, args, { env });
    outputs.push([what, r]);
    assert.equal(r.code === 0, ok, `${what}: exit ${r.code}\n${r.stderr}\n${agent.log()}`);
  };

  // Wrong PIN first (a failure that carries the PIN all the way to C_Login), then the right one.
  await step('ssh-add -s, wrong PIN', 'ssh-add', ['-s', SOFTHSM_MODULE], WRONG_PIN, false);
  await agent.waitForLog('CKR_PIN_INCORRECT');
  await step('tt-agent add, wrong PIN', process.execPath, [TT_AGENT_BIN, 'add', SOFTHSM_MODULE], WRONG_PIN, false);
  await step('ssh-add -s', 'ssh-add', ['-s', SOFTHSM_MODULE], PIN, true);
  // A loaded module is not added twice: remove it, then load it through tt-agent add too.
  await step('ssh-add -e', 'ssh-add', ['-e', SOFTHSM_MODULE], '', true);
  await step('tt-agent add', process.execPath, [TT_AGENT_BIN, 'add', SOFTHSM_MODULE], PIN, true);

  const c = await RawClient.connect(agent.sock);
  t.after(() => c.end());
  const [key] = await c.identities();
  assert.ok(key && (await c.sign(key.blob, Buffer.from('before'))), 'the token key signs');

  // A host that dies must be replaced with a login made from the kept PIN, not a prompt.
  const hosts = childrenOf(agent.pid);
  assert.ok(hosts.length >= 1, 'a module host runs');
  const processes = [agent.pid, ...hosts];
  for (const pid of hosts) process.kill(pid, 'SIGKILL');
  await agent.waitForLog(/module host for .* died \(SIGKILL\)/);
  assert.ok(await c.sign(key.blob, Buffer.from('after restart')), 'signs after the host restart');
  processes.push(...childrenOf(agent.pid));

  // Lock / unlock: right, wrong, right.
  await step('ssh-add -x', 'ssh-add', ['-x'], LOCK, true);
  await step('ssh-add -X, wrong passphrase', 'ssh-add', ['-X'], WRONG_LOCK, false);
  await agent.waitForLog('unlock with a wrong passphrase');
  await step('ssh-add -X', 'ssh-add', ['-X'], LOCK, true);
  // And the same over the wire with a lock passphrase the agent must not echo anywhere.
  assert.equal((await c.request(new SshWriter().uint8(22).string(LOCK).toBuffer()))[0], 6);
  assert.equal((await c.request(new SshWriter().uint8(23).string(WRONG_LOCK).toBuffer()))[0], 5);
  assert.equal((await c.request(new SshWriter().uint8(23).string(LOCK).toBuffer()))[0], 6);

  const status = new SshReader(await c.request(new SshWriter().uint8(SSH_AGENTC_EXTENSION).string('status@tt-agent').string('full').toBuffer()));
  status.uint8();
  status.string();
  const statusJson = status.stringUtf8();
  assert.match(statusJson, /secret/, 'the status report covers the token');

  // The search itself finds what it looks for.
  assert.throws(() => assertClean('self-check', `x ${Buffer.from(PIN).toString('hex')} y`));
  assertClean('agent log', agent.log());
  assertClean('status@tt-agent', statusJson);
  for (const [what, r] of outputs) assertClean(`output of ${what}`, r.stdout + r.stderr);
  for (const pid of processes) {
    if (!fs.existsSync(`/proc/${pid}`)) continue; // the killed hosts
    assertClean(`/proc/${pid}/cmdline`, procText(pid, 'cmdline'));
    assertClean(`/proc/${pid}/environ`, procText(pid, 'environ'));
  }
  assert.ok(processes.filter((p) => fs.existsSync(`/proc/${p}`)).length >= 2, 'agent and a live host were searched');
});
