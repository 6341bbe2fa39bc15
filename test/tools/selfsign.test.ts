// tt-agent selfsign on the fixture token: new certificates, replacing, and every refusal
// leaving the token as it was.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { makeToken, STANDARD_KEYS, type TestToken } from '../helpers/softhsm';
import { addDecryptOnlyKey } from './pkcs11-fixtures';
import {
  assertOneLineError,
  openssl,
  p11toolObjects,
  pkcs11ToolObjects,
  readCertificate,
  sshKeyPartOfPem,
  sshKeygenD,
  tt,
} from './run';

let tok: TestToken;
test.before(() => {
  tok = makeToken({
    setEnv: false,
    tokens: [
      {
        label: 'tt-test',
        keys: [
          ...STANDARD_KEYS,
          // Private keys alone: no public-key object, no certificate.
          { kind: 'rsa:2048', id: '30', label: 'bare-rsa', publicObject: false },
          { kind: 'ec:prime256v1', id: '31', label: 'bare-ec', publicObject: false },
          // Two keys under one label.
          { kind: 'ec:prime256v1', id: '40', label: 'twin' },
          { kind: 'ec:prime256v1', id: '41', label: 'twin' },
        ],
      },
    ],
  });
  addDecryptOnlyKey(tok, '50', 'decrypt-only');
});
test.after(() => tok.cleanup());

const count = () => pkcs11ToolObjects(tok).length;

test('a key with neither public-key object nor certificate: after selfsign ssh-keygen -D lists it', () => {
  // The public key comes from the private key's CKA_MODULUS / CKA_PUBLIC_EXPONENT.
  const pubExpected = sshKeyPartOfPem(tok, tok.keyFiles['bare-rsa'], 'private');
  assert.equal(pubExpected.split(' ')[0], 'ssh-rsa');
  assert.ok(!sshKeygenD(tok).includes(pubExpected), 'not listed before');

  const r = tt(tok, ['selfsign', tok.module, '--id', '30']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /wrote certificate for key ID 30: subject "CN=bare-rsa"/);
  assert.ok(sshKeygenD(tok).includes(pubExpected), 'listed after selfsign');

  const pem = readCertificate(tok, '30');
  assert.equal(openssl(['verify', '-CAfile', pem, pem]).trim(), `${pem}: OK`);
  assert.equal(sshKeyPartOfPem(tok, pem, 'cert'), pubExpected);
  const objs = pkcs11ToolObjects(tok).filter((o) => o.id === '30');
  assert.deepEqual(objs.map((o) => o.type).sort(), ['cert', 'privkey']);
  assert.deepEqual(p11toolObjects(tok).filter((o) => o.id === '30').map((o) => o.type).sort(), ['cert', 'private']);
});

test('an EC private key that reveals no public part: one clear line, no object written', () => {
  const before = count();
  const r = tt(tok, ['selfsign', tok.module, '--id', '31']);
  assertOneLineError(r, /public key of the private key with ID 31 cannot be derived/);
  assert.equal(count(), before);
});

test('an existing certificate is kept without --force and replaced with it', () => {
  const old = readCertificate(tok, '10');
  const oldSerial = openssl(['x509', '-in', old, '-noout', '-serial']);
  const refused = tt(tok, ['selfsign', tok.module, '--id', '10']);
  assertOneLineError(refused, /already holds a certificate for the key with ID 10/);
  assert.match(refused.stderr, /--force/);
  assert.equal(openssl(['x509', '-in', readCertificate(tok, '10'), '-noout', '-serial']), oldSerial);

  const r = tt(tok, ['selfsign', tok.module, '--id', '10', '--force', '--subject', 'CN=renewed', '--days', '30']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /replaced 1 older certificate/);
  const certs = pkcs11ToolObjects(tok).filter((o) => o.type === 'cert' && o.id === '10');
  assert.equal(certs.length, 1);
  const pem = readCertificate(tok, '10');
  assert.notEqual(openssl(['x509', '-in', pem, '-noout', '-serial']), oldSerial);
  assert.match(openssl(['x509', '-in', pem, '-noout', '-subject']), /CN = renewed/);
  assert.equal(openssl(['verify', '-CAfile', pem, pem]).trim(), `${pem}: OK`);
  // The new certificate holds the same key as the one it replaced.
  assert.equal(sshKeyPartOfPem(tok, pem, 'cert'), sshKeyPartOfPem(tok, old, 'cert'));
});

test('selfsign by label, key selected through the URI id=, and --out -', () => {
  const byLabel = tt(tok, ['selfsign', tok.module, '--label', 'p384', '--out', '-']);
  assert.equal(byLabel.status, 0, byLabel.stderr);
  assert.match(byLabel.stdout, /^-----BEGIN CERTIFICATE-----\n/);
  const pem = `${tok.dir}/p384-out.pem`;
  fs.writeFileSync(pem, byLabel.stdout);
  assert.match(openssl(['x509', '-in', pem, '-noout', '-text']), /ecdsa-with-SHA384/);
  assert.equal(fs.readFileSync(readCertificate(tok, '04'), 'utf8'), byLabel.stdout);

  const byUri = tt(tok, ['selfsign', `pkcs11:token=tt-test;id=%06?module-path=${tok.module}`]);
  assert.equal(byUri.status, 0, byUri.stderr);
  const ed = readCertificate(tok, '06');
  assert.match(openssl(['x509', '-in', ed, '-noout', '-text']), /Signature Algorithm: ED25519/);
  assert.equal(openssl(['verify', '-CAfile', ed, ed]).trim(), `${ed}: OK`);
});

const REFUSALS: [string, string[], RegExp, number][] = [
  ['--days 0', ['--id', '01', '--days', '0'], /--days must be a whole number from 1 to 36500, not 0/, 2],
  ['--days -5', ['--id', '01', '--days', '-5'], /--days must be a whole number/, 2],
  ['a malformed subject', ['--id', '01', '--subject', 'CN=a,O'], /malformed subject "CN=a,O": "O" has no '='/, 2],
  ['an unknown ID', ['--id', '99'], /no private key with ID 99 on the token/, 1],
  ['an unknown label', ['--label', 'nope'], /no private key with label "nope" on the token/, 1],
  ['a label two keys share', ['--label', 'twin'], /2 private keys match label "twin": ID 40 "twin", ID 41 "twin"/, 1],
  ['a key without CKA_SIGN', ['--id', '50'], /private key with ID 50 may not sign \(CKA_SIGN is false\)/, 1],
  ['no key named', [], /selfsign needs to know which key: give --id or --label/, 2],
  ['a bad --id', ['--id', 'xyz'], /--id 'xyz' is not hex bytes/, 2],
];
for (const [what, args, message, status] of REFUSALS) {
  test(`selfsign with ${what}: one clear line, exit ${status}, nothing written`, () => {
    const before = count();
    const r = tt(tok, ['selfsign', tok.module, ...args]);
    assertOneLineError(r, message);
    assert.equal(r.status, status);
    assert.equal(count(), before);
  });
}

test('no PIN and no terminal: refused with a hint, nothing written', () => {
  const before = count();
  const r = tt(tok, ['selfsign', tok.module, '--id', '01'], { pin: false, noTerminal: true });
  assertOneLineError(r, /token 'tt-test' needs a PIN and there is no terminal to ask for it/);
  assert.match(r.stderr, /--pin-source/);
  assert.equal(count(), before);
});

test('a wrong PIN: one line, nothing written', () => {
  const before = count();
  const bad = `${tok.dir}/bad-pin`;
  fs.writeFileSync(bad, '000000\n');
  const r = tt(tok, ['selfsign', tok.module, '--id', '01', '--pin-source', bad], { pin: false });
  assertOneLineError(r, /PIN incorrect for token 'tt-test'/);
  assert.equal(count(), before);
});
