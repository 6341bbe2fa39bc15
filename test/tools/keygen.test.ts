// tt-agent keygen (--selfsign) on a fresh SoftHSM token, for every key type, judged by
// openssl, pkcs11-tool, p11tool and ssh-keygen.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { openssl, p11toolObjects, pkcs11ToolObjects, readCertificate, sshKeyPartOfPem, sshKeygenD, tt } from './run';

let tok: TestToken;
test.before(() => {
  tok = makeToken({ tokens: 'empty', setEnv: false });
});
test.after(() => tok.cleanup());

const TYPES = [
  { type: 'rsa:2048', id: '01', sigalg: 'sha256WithRSAEncryption', key: /Public-Key: \(2048 bit\)/ },
  { type: 'rsa:3072', id: '02', sigalg: 'sha256WithRSAEncryption', key: /Public-Key: \(3072 bit\)/ },
  { type: 'ec:p256', id: '03', sigalg: 'ecdsa-with-SHA256', key: /NIST CURVE: P-256/ },
  { type: 'ec:p384', id: '04', sigalg: 'ecdsa-with-SHA384', key: /NIST CURVE: P-384/ },
  { type: 'ec:p521', id: '05', sigalg: 'ecdsa-with-SHA512', key: /NIST CURVE: P-521/ },
  { type: 'ed25519', id: '06', sigalg: 'ED25519', key: /Public Key Algorithm: ED25519/ },
];

for (const t of TYPES) {
  test(`keygen --type ${t.type} --selfsign: key pair and certificate under one ID, certificate verifies`, () => {
    const out = path.join(tok.dir, `${t.type.replace(':', '-')}.pem`);
    // No --id: the first free ID is taken, so the six keys get 01..06 in order.
    const r = tt(tok, ['keygen', tok.module, '--type', t.type, '--selfsign', '--subject', `CN=${t.type},O=Example`, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`ID ${t.id}, label "ssh-key-${t.id}"`));
    const line = r.stdout.trim();
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 1);
    assert.ok(line.endsWith(` ssh-key-${t.id}`), line);

    // The certificate on the token, read back by pkcs11-tool, is the one --out wrote.
    const onToken = readCertificate(tok, t.id);
    assert.equal(fs.readFileSync(onToken, 'utf8'), fs.readFileSync(out, 'utf8'));
    const text = openssl(['x509', '-in', onToken, '-noout', '-text']);
    assert.match(text, new RegExp(`Signature Algorithm: ${t.sigalg}`));
    assert.match(text, t.key);
    assert.match(text, /Subject: O = Example, CN = /);
    assert.match(text, /CA:FALSE/);
    assert.equal(openssl(['verify', '-CAfile', onToken, onToken]).trim(), `${onToken}: OK`);

    // The printed line is the certificate's key, and the public-key object's.
    const keyPart = line.split(' ').slice(0, 2).join(' ');
    if (t.type !== 'ed25519') {
      // ssh-keygen 9.2 reads neither Ed25519 PKCS#8 nor Ed25519 PKCS#11 keys.
      assert.equal(sshKeyPartOfPem(tok, onToken, 'cert'), keyPart);
      assert.ok(sshKeygenD(tok).includes(keyPart), 'ssh-keygen -D lists the new key');
    } else {
      const der = execFileSync('openssl', ['x509', '-in', onToken, '-pubkey', '-noout']);
      const raw = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: der }).subarray(-32);
      const blob = Buffer.from(keyPart.split(' ')[1], 'base64');
      assert.ok(blob.subarray(-32).equals(raw));
    }

    // pkcs11-tool and p11tool both see private key, public key and certificate with the same ID and label.
    const mine = pkcs11ToolObjects(tok).filter((o) => o.id === t.id);
    assert.deepEqual(mine.map((o) => o.type).sort(), ['cert', 'privkey', 'pubkey']);
    assert.ok(mine.every((o) => o.label === `ssh-key-${t.id}`));
    const access = mine.find((o) => o.type === 'privkey')!.access ?? '';
    assert.match(access, /sensitive/);
    assert.match(access, /never extractable/);
    const viaGnutls = p11toolObjects(tok).filter((o) => o.id === t.id);
    assert.deepEqual(viaGnutls.map((o) => o.type).sort(), ['cert', 'private', 'public']);
  });
}

test('keygen --id of an existing key is refused and nothing is generated', () => {
  const before = pkcs11ToolObjects(tok).length;
  const r = tt(tok, ['keygen', tok.module, '--type', 'ec:p256', '--id', '01']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^tt-agent: ID 01 is already used on token 'empty' \(by the /);
  assert.equal(pkcs11ToolObjects(tok).length, before);
});

test('keygen --selfsign with a malformed subject or --days 0 fails before generating anything', () => {
  const before = pkcs11ToolObjects(tok).length;
  const a = tt(tok, ['keygen', tok.module, '--type', 'ec:p256', '--selfsign', '--subject', 'CN=a,bogus']);
  assert.equal(a.status, 2);
  assert.match(a.stderr, /^tt-agent: malformed subject "CN=a,bogus": "bogus" has no '='\n {2}\S/);
  const b = tt(tok, ['keygen', tok.module, '--type', 'ec:p256', '--selfsign', '--days', '0']);
  assert.equal(b.status, 2);
  assert.match(b.stderr, /^tt-agent: --days must be a whole number from 1 to 36500, not 0\n/);
  assert.equal(pkcs11ToolObjects(tok).length, before);
});

test('keygen with an explicit --id and --label, without --selfsign: no certificate', () => {
  const r = tt(tok, ['keygen', tok.module, '--type', 'ec:p256', '--id', 'a1:b2', '--label', 'work laptop']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ecdsa-sha2-nistp256 \S+ work laptop\n$/);
  const mine = pkcs11ToolObjects(tok).filter((o) => o.id === 'a1b2');
  assert.deepEqual(mine.map((o) => o.type).sort(), ['privkey', 'pubkey']);
});
