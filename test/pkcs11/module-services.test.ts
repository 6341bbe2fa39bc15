// What a module needs around it, as a user meets it: a C_Initialize that fails names the
// daemon and the group, judged on the real modules with their daemons absent; the string
// padding rule; the serialization rule for p11-kit-proxy's realpath.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'node:test';
import { TT_AGENT_BIN } from '../helpers/agent';
import { OCK_MODULE } from '../helpers/opencryptoki';
import { P11KIT_PROXY } from '../helpers/p11kit';
import { TPM2_PKCS11_MODULE } from '../helpers/tpm';
import { missingGroup } from '../../src/pkcs11/module-services';
import { needsSerializedCalls } from '../../src/pkcs11/serialize-rule';
import { pkcs11String } from '../../src/pkcs11/strings';

function list(module: string, env: NodeJS.ProcessEnv = process.env, prefix: string[] = []) {
  const argv = [...prefix, process.execPath, TT_AGENT_BIN, 'list', module];
  return spawnSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8', timeout: 60_000 });
}

const ockDown = !fs.existsSync(OCK_MODULE)
  ? 'opencryptoki is not installed'
  : fs.existsSync('/run/pkcsslotd.socket')
    ? 'a system pkcsslotd is running'
    : false;

test('opencryptoki without pkcsslotd: the failure names pkcsslotd', { skip: ockDown }, () => {
  const r = list(OCK_MODULE);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /failed to start: C_Initialize returned CKR_\w+\n\s+opencryptoki needs pkcsslotd running: systemctl start pkcsslotd/);
  assert.doesNotMatch(r.stderr, /pcscd/);
});

test('opencryptoki for a user outside the pkcs11 group: the failure says so', { skip: ockDown || (process.getuid?.() !== 0 && 'needs root to become nobody') }, () => {
  const r = list(OCK_MODULE, process.env, ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /You are not in the 'pkcs11' group, which opencryptoki requires: sudo usermod -aG pkcs11 \$USER/);
});

test('tpm2-pkcs11 without a TPM: the failure names tpm2-abrmd and TPM2_PKCS11_TCTI', { skip: !fs.existsSync(TPM2_PKCS11_MODULE) && 'tpm2-pkcs11 is not installed' }, () => {
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-tpm-none-'));
  try {
    // A TCTI that reaches nothing: port 1 on loopback refuses at once.
    const r = list(TPM2_PKCS11_MODULE, { ...process.env, TPM2_PKCS11_TCTI: 'swtpm:host=127.0.0.1,port=1', TPM2_PKCS11_STORE: store });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /tpm2-pkcs11 needs tpm2-abrmd \(or the TPM that TPM2_PKCS11_TCTI names\) running/);
  } finally {
    fs.rmSync(store, { recursive: true, force: true });
  }
});

test('missingGroup reads the group file: member, not member, no such group', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-group-'));
  const file = path.join(dir, 'group');
  const gid = process.getgid!();
  fs.writeFileSync(file, `mine:x:${gid}:\nother:x:4242424:\n`);
  if (process.getuid?.() !== 0) {
    assert.equal(missingGroup('mine', file), false);
    assert.equal(missingGroup('other', file), !process.getgroups!().includes(4242424));
  } else {
    assert.equal(missingGroup('other', file), false, 'root is never told to join a group');
  }
  assert.equal(missingGroup('absent', file), false);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('PKCS#11 strings end at the first NUL and lose trailing blanks', () => {
  assert.equal(pkcs11String('Linux' + '\0'.repeat(59)), 'Linux');
  assert.equal(pkcs11String('SoftHSM slot ID 0x1' + ' '.repeat(45)), 'SoftHSM slot ID 0x1');
  assert.equal(pkcs11String('a b  \0\0  junk'), 'a b');
  assert.equal(pkcs11String(''), '');
});

test('p11-kit-proxy is serialized by the name a user types and by its realpath', () => {
  assert.equal(needsSerializedCalls('/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so'), true);
  assert.equal(needsSerializedCalls('/usr/lib/x86_64-linux-gnu/libp11-kit.so.0.3.0'), true);
  assert.equal(needsSerializedCalls('/usr/lib/x86_64-linux-gnu/libp11-kit.so.0'), true);
  assert.equal(needsSerializedCalls('/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so'), true);
  assert.equal(needsSerializedCalls('/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'), false);
  if (fs.existsSync(P11KIT_PROXY)) assert.equal(needsSerializedCalls(fs.realpathSync(P11KIT_PROXY)), true);
});
