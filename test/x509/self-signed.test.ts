// Certificates built with node:crypto keys as the signer, judged by openssl.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { buildSelfSignedCertificate, CertificateInputError, MAX_DAYS } from '../../src/x509';
import { makeKey, type KeySpec } from './node-keys';

const dir = mkdtempSync(join(tmpdir(), 'tt-x509-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const EXPECTED_SIGALG: Record<KeySpec, string> = {
  'rsa:2048': 'sha256WithRSAEncryption',
  'rsa:3072': 'sha256WithRSAEncryption',
  'ec:p256': 'ecdsa-with-SHA256',
  'ec:p384': 'ecdsa-with-SHA384',
  'ec:p521': 'ecdsa-with-SHA512',
  ed25519: 'ED25519',
};
const EXPECTED_KEY: Record<KeySpec, RegExp> = {
  'rsa:2048': /Public-Key: \(2048 bit\)/,
  'rsa:3072': /Public-Key: \(3072 bit\)/,
  'ec:p256': /NIST CURVE: P-256/,
  'ec:p384': /NIST CURVE: P-384/,
  'ec:p521': /NIST CURVE: P-521/,
  ed25519: /Public Key Algorithm: ED25519/,
};

for (const spec of Object.keys(EXPECTED_SIGALG) as KeySpec[]) {
  test(`${spec}: openssl parses and verifies the self-signed certificate`, async () => {
    const key = makeKey(spec);
    const cert = await buildSelfSignedCertificate({
      publicKey: key.publicKey,
      subject: 'CN=alice,O=Example Corp,C=DE',
      days: 30,
      sign: key.sign,
    });
    const file = join(dir, `${spec.replace(':', '-')}.pem`);
    writeFileSync(file, cert.pem);
    const text = openssl('x509', '-in', file, '-noout', '-text');
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(text, new RegExp(`Signature Algorithm: ${EXPECTED_SIGALG[spec]}`));
    assert.match(text, EXPECTED_KEY[spec]);
    assert.match(text, /Subject: C = DE, O = Example Corp, CN = alice/);
    assert.match(text, /Issuer: C = DE, O = Example Corp, CN = alice/);
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    assert.match(text, /X509v3 Subject Key Identifier:/);
    assert.equal(openssl('verify', '-CAfile', file, file).trim(), `${file}: OK`);

    // The public key in the certificate is exactly the signer's.
    const x = new X509Certificate(cert.der);
    assert.ok(x.publicKey.equals(createPublicKey(key.privateKey)));
    const days = (new Date(x.validTo).getTime() - new Date(x.validFrom).getTime()) / 86_400_000;
    assert.ok(days > 30 && days < 30.01, `validity ${days} days`);
    assert.ok(new Date(x.validFrom).getTime() <= Date.now());
  });
}

test('the serial is positive, 16 bytes, and differs between certificates', async () => {
  const key = makeKey('ec:p256');
  const a = await buildSelfSignedCertificate({ publicKey: key.publicKey, subject: 'CN=a', sign: key.sign });
  const b = await buildSelfSignedCertificate({ publicKey: key.publicKey, subject: 'CN=a', sign: key.sign });
  assert.notEqual(a.serialHex, b.serialHex);
  assert.equal(a.serialNumberDer[0], 0x02);
  assert.equal(a.serialNumberDer[1], 16);
  assert.equal(a.serialNumberDer[2] & 0x80, 0);
  assert.equal(new X509Certificate(a.der).serialNumber.toLowerCase(), a.serialHex);
});

test('subject DER matches what openssl reads as the subject', async () => {
  const key = makeKey('ed25519');
  const cert = await buildSelfSignedCertificate({ publicKey: key.publicKey, subject: '/O=Ex/CN=bob', sign: key.sign });
  const file = join(dir, 'subj.pem');
  writeFileSync(file, cert.pem);
  assert.match(openssl('x509', '-in', file, '-noout', '-subject'), /subject=O = Ex, CN = bob/);
  // The DER Name is inside the certificate DER twice (issuer and subject).
  const first = cert.der.indexOf(cert.subjectDer);
  assert.ok(first > 0 && cert.der.indexOf(cert.subjectDer, first + 1) > first);
});

for (const days of [0, -1, 1.5, MAX_DAYS + 1, Number.NaN]) {
  test(`--days ${days} is refused before anything is signed`, async () => {
    const key = makeKey('ec:p256');
    let signed = false;
    await assert.rejects(
      buildSelfSignedCertificate({
        publicKey: key.publicKey,
        subject: 'CN=a',
        days,
        sign: async (tbs, s) => ((signed = true), key.sign(tbs, s)),
      }),
      (e: unknown) => e instanceof CertificateInputError && e.field === 'days' && /--days must be/.test(e.message),
    );
    assert.equal(signed, false);
  });
}

test('a signature from another key is refused (mispaired key)', async () => {
  const key = makeKey('ec:p256');
  const other = makeKey('ec:p256');
  await assert.rejects(
    buildSelfSignedCertificate({ publicKey: key.publicKey, subject: 'CN=a', sign: other.sign }),
    (e: unknown) => e instanceof CertificateInputError && e.field === 'signature' && /do not belong together/.test(e.message),
  );
});

test('an ECDSA signature of the wrong width is refused', async () => {
  const key = makeKey('ec:p384');
  await assert.rejects(
    buildSelfSignedCertificate({ publicKey: key.publicKey, subject: 'CN=a', sign: async () => Buffer.alloc(64) }),
    (e: unknown) => e instanceof CertificateInputError && /expected 96/.test(e.message),
  );
});

test('a 100-year certificate uses GeneralizedTime after 2049 and still verifies', async () => {
  const key = makeKey('ec:p256');
  const cert = await buildSelfSignedCertificate({
    publicKey: key.publicKey,
    subject: 'CN=long',
    days: 36500,
    sign: key.sign,
  });
  const file = join(dir, 'long.pem');
  writeFileSync(file, cert.pem);
  assert.equal(openssl('verify', '-CAfile', file, file).trim(), `${file}: OK`);
  assert.ok(cert.notAfter.getUTCFullYear() > 2049);
});
