// tt-agent list: the table and the JSON, against fresh SoftHSM tokens.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { runCli } from './pubkey-run';

let tok: TestToken;
test.before(() => {
  tok = makeToken({ setEnv: false });
});
test.after(() => tok.cleanup());

function listJson(spec: string, env = tok.env) {
  const r = runCli(['list', spec, '--json'], env);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('logged in through the URI: every key, its objects, and the pairing problem', () => {
  const j = listJson(`pkcs11:token=tt-test?module-path=${tok.module}&pin-value=${tok.pin}`);
  assert.equal(j.tokens.length, 1);
  const t = j.tokens[0];
  assert.equal(t.label, 'tt-test');
  assert.equal(t.manufacturer, 'SoftHSM project');
  assert.equal(t.flags.loginRequired, true);
  assert.equal(t.loggedIn, true);
  const byLabel = Object.fromEntries(t.keys.map((k: any) => [k.label, k]));
  assert.deepEqual(Object.keys(byLabel), ['rsa2048', 'rsa3072', 'p256', 'p384', 'p521', 'ed25519', 'cert-only', 'mismatch']);
  assert.deepEqual([byLabel.rsa3072.type, byLabel.rsa3072.bits, byLabel.rsa3072.id], ['rsa', 3072, '02']);
  assert.deepEqual([byLabel.p521.curve, byLabel.ed25519.sshType], ['nistp521', 'ssh-ed25519']);
  for (const k of t.keys) assert.equal(k.canSign, true, k.label);
  // the RSA key without a public-key object: private key + certificate, paired by CKA_ID
  assert.deepEqual(
    [byLabel['cert-only'].privateKey, byLabel['cert-only'].publicKeyObject, byLabel['cert-only'].certificate],
    [true, false, true],
  );
  assert.equal(byLabel['cert-only'].certSubject, 'CN=cert-only');
  // the certificate under another CKA_ID is still paired (by key material) and flagged
  assert.equal(byLabel.mismatch.certificate, true);
  assert.deepEqual(byLabel.mismatch.problems.map((p: any) => p.code), ['id-mismatch']);
  assert.match(byLabel.mismatch.problems[0].message, /certificate 21; run tt-agent fix-ids/);
  assert.deepEqual(j.uninitializedSlots.length, 1);
});

test('the table is aligned and marks problems; private keys show ? without login', () => {
  const r = runCli(['list', tok.module], tok.env);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /^Token 'tt-test' {2}serial \w+ {2}SoftHSM project \/ SoftHSM v2/);
  assert.equal(lines[1], '  flags: login required');
  const header = lines[2];
  assert.match(header, /^ {2}TYPE +ID +LABEL +PRIV +PUB +CERT +SIGN +NOTES$/);
  const col = (name: string) => header.indexOf(name);
  const p384 = lines.find((l) => l.includes(' p384 '))!;
  assert.match(p384, /^ {2}ECDSA P-384 +04 +p384 +\? +yes +- +\?$/);
  assert.equal(p384.indexOf('04'), col('ID'));
  const mismatch = lines.find((l) => l.includes(' mismatch '))!;
  assert.equal(mismatch.indexOf('! CKA_ID differs'), col('NOTES'));
  assert.match(r.stdout, /private keys are not visible without login/);
  assert.match(r.stdout, /SoftHSM slot ID 0x1: token not initialized \(skipped\)/);
});

test('an empty token and a two-token module', () => {
  const two = makeToken({ tokens: 'twoTokens', setEnv: false });
  const empty = makeToken({ tokens: 'empty', setEnv: false });
  try {
    const j = listJson(two.module, two.env);
    assert.deepEqual(j.tokens.map((t: any) => t.label).sort(), ['first', 'second']);
    const r = runCli(['list', empty.module], empty.env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Token 'empty'.*\n {2}flags: login required\n {2}no keys\n/);
  } finally {
    two.cleanup();
    empty.cleanup();
  }
});

test('a PIN file named by pin-source logs in', () => {
  const file = `${tok.dir}/pin`;
  fs.writeFileSync(file, `${tok.pin}\n`);
  const j = listJson(`pkcs11:?module-path=${tok.module}&pin-source=file:${file}`);
  assert.equal(j.tokens[0].keys[0].privateKey, true);
});
