// Bad input to the token commands: one line saying what went wrong, one saying what next,
// exit status 1, and a stack trace only with --debug.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeToken, SOFTHSM_MODULE, type TestToken } from '../helpers/softhsm';
import { assertOneLineError, runCli } from './pubkey-run';

let tok: TestToken;
test.before(() => {
  tok = makeToken({ tokens: 'empty', setEnv: false });
});
test.after(() => tok.cleanup());

const cases: { name: string; args: string[]; env?: NodeJS.ProcessEnv; expect: RegExp }[] = [
  { name: 'a module path that does not exist', args: ['pubkey', '/nonexistent/module.so'], expect: /module \/nonexistent\/module\.so does not exist/ },
  { name: 'a file that is not a library', args: ['pubkey', '/etc/passwd'], expect: /\/etc\/passwd is not a loadable shared library/ },
  {
    name: 'a library that is not PKCS#11',
    args: ['list', '/usr/lib/x86_64-linux-gnu/libz.so.1'],
    expect: /libz\.so\.1 is a shared library but not a PKCS#11 module/,
  },
  {
    name: 'C_Initialize failing',
    args: ['pubkey', SOFTHSM_MODULE],
    env: { SOFTHSM2_CONF: '/nonexistent/softhsm2.conf' },
    expect: /failed to start: C_Initialize returned CKR_GENERAL_ERROR/,
  },
  {
    name: 'no token present',
    args: ['list', '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so'],
    env: { P11_KIT_SERVER_ADDRESS: 'unix:path=/nonexistent' },
    expect: /reports no slots/,
  },
  { name: 'an unknown p11-kit module name', args: ['pubkey', 'no-such-module'], expect: /no p11-kit module named 'no-such-module'/ },
  {
    name: 'a URI that matches no token',
    args: ['pubkey', `pkcs11:token=nope?module-path=${SOFTHSM_MODULE}`],
    expect: /no token matches pkcs11:token=nope.*\(tokens: 'empty'\)/,
  },
  { name: 'a malformed URI (bad escape)', args: ['pubkey', 'pkcs11:id=%zz'], expect: /malformed pkcs11: URI at 'id=%zz': bad percent-escape/ },
  { name: 'a malformed URI (unknown attribute)', args: ['list', 'pkcs11:token=a;colour=red'], expect: /at 'colour=red': unknown attribute/ },
  { name: 'a malformed URI (bad type)', args: ['list', 'pkcs11:type=key'], expect: /at 'type=key': type must be one of/ },
  { name: 'a token without keys', args: ['pubkey', SOFTHSM_MODULE], expect: /no public keys on token 'empty'/ },
  { name: 'a bad --id', args: ['pubkey', SOFTHSM_MODULE, '--id', 'xyz'], expect: /--id 'xyz' is not hex bytes/ },
];

for (const c of cases) {
  test(c.name, () => {
    const r = runCli(c.args, { ...tok.env, ...c.env });
    assertOneLineError(r, c.expect);
  });
}

test('an uninitialized token', () => {
  const bare = makeToken({ tokens: 'uninitialized', setEnv: false });
  try {
    assertOneLineError(runCli(['list', bare.module], bare.env), /token in SoftHSM slot ID 0x\w+ is not initialized/);
  } finally {
    bare.cleanup();
  }
});

test('an unreadable p11-kit config', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-home-'));
  try {
    // A directory where the config file should be: unreadable even for root.
    fs.mkdirSync(path.join(home, '.config/pkcs11/modules/broken.module'), { recursive: true });
    const r = runCli(['pubkey', 'broken'], { ...tok.env, HOME: home });
    assertOneLineError(r, /cannot read p11-kit config .*broken\.module: EISDIR/);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('a p11-kit config with a relative module: line resolves in the p11-kit module dir', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-home-'));
  try {
    fs.mkdirSync(path.join(home, '.config/pkcs11/modules'), { recursive: true });
    fs.writeFileSync(path.join(home, '.config/pkcs11/modules/mine.module'), '# mine\nmodule: p11-kit-client.so\n');
    const r = runCli(['list', 'mine'], { ...tok.env, HOME: home, P11_KIT_SERVER_ADDRESS: 'unix:path=/nonexistent' });
    assertOneLineError(r, /\/usr\/lib\/x86_64-linux-gnu\/pkcs11\/p11-kit-client\.so reports no slots/);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('--debug adds the stack trace', () => {
  const r = runCli(['pubkey', '/nonexistent/module.so', '--debug'], tok.env);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^tt-agent: PKCS#11 module \/nonexistent\/module\.so does not exist\n/);
  assert.match(r.stderr, /\n\s+at /);
});
