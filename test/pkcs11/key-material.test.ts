import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { certificatePublicKey, curveFromEcParams, ecPublicKey, pointFromEcPoint, publicKeyFromJwk, publicKeyToPem } from '../../src/pkcs11';

const OID_P256 = Buffer.from('06082a8648ce3d030107', 'hex');
const OID_P384 = Buffer.from('06052b81040022', 'hex');
const OID_P521 = Buffer.from('06052b81040023', 'hex');
const OID_ED25519 = Buffer.from('06032b6570', 'hex');
const PRINTABLE_EDWARDS25519 = Buffer.from('130c656477617264733235353139', 'hex'); // as pkcs11-tool writes it

test('CKA_EC_PARAMS: named-curve OIDs and the printable string edwards25519', () => {
  assert.equal(curveFromEcParams(OID_P256), 'nistp256');
  assert.equal(curveFromEcParams(OID_P384), 'nistp384');
  assert.equal(curveFromEcParams(OID_P521), 'nistp521');
  assert.equal(curveFromEcParams(OID_ED25519), 'ed25519');
  assert.equal(curveFromEcParams(PRINTABLE_EDWARDS25519), 'ed25519');
  assert.equal(curveFromEcParams(Buffer.from('06052b8104000a', 'hex')), undefined); // secp256k1: no SSH name
  assert.equal(curveFromEcParams(Buffer.from('0608', 'hex')), undefined); // truncated
});

test('CKA_EC_POINT: DER-wrapped, raw and compressed points give the same key', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const jwk = publicKey.export({ format: 'jwk' });
  const raw = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const wrapped = Buffer.concat([Buffer.from([0x04, raw.length]), raw]);
  const y = Buffer.from(jwk.y!, 'base64url');
  const compressed = Buffer.concat([Buffer.from([y[y.length - 1] & 1 ? 3 : 2]), Buffer.from(jwk.x!, 'base64url')]);
  assert.deepEqual(pointFromEcPoint('nistp384', raw), raw);
  assert.deepEqual(pointFromEcPoint('nistp384', wrapped), raw);
  assert.deepEqual(pointFromEcPoint('nistp384', compressed), raw);
  assert.deepEqual(ecPublicKey(OID_P384, wrapped), { kind: 'ecdsa', curve: 'nistp384', point: raw });
  assert.equal(pointFromEcPoint('nistp384', raw.subarray(1)), undefined);
});

test('P-521 DER wrapping uses a long-form length', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const pk = publicKeyFromJwk(publicKey.export({ format: 'jwk' }))!;
  assert.equal(pk.kind, 'ecdsa');
  const point = (pk as { point: Buffer }).point;
  const wrapped = Buffer.concat([Buffer.from([0x04, 0x81, point.length]), point]);
  assert.deepEqual(ecPublicKey(OID_P521, wrapped), pk);
});

test('Ed25519: raw 32 bytes or an OCTET STRING, under either params form', () => {
  const key = Buffer.alloc(32, 7);
  const wrapped = Buffer.concat([Buffer.from([0x04, 0x20]), key]);
  for (const params of [OID_ED25519, PRINTABLE_EDWARDS25519]) {
    assert.deepEqual(ecPublicKey(params, key), { kind: 'ed25519', key });
    assert.deepEqual(ecPublicKey(params, wrapped), { kind: 'ed25519', key });
  }
});

test('certificates: the SubjectPublicKeyInfo and the subject, as openssl made them', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-cert-'));
  try {
    for (const algo of [['-algorithm', 'RSA'], ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], ['-algorithm', 'ED25519']]) {
      const key = path.join(dir, 'k.pem');
      const crt = path.join(dir, 'c.der');
      execFileSync('openssl', ['genpkey', ...algo, '-out', key]);
      execFileSync('openssl', ['req', '-x509', '-new', '-key', key, '-subj', '/CN=alice/O=Example', '-days', '1', '-outform', 'DER', '-out', crt]);
      const got = certificatePublicKey(fs.readFileSync(crt));
      assert.equal(got.subject, 'CN=alice, O=Example');
      const want = createPublicKey(fs.readFileSync(key)).export({ type: 'spki', format: 'pem' });
      assert.equal(publicKeyToPem(got.publicKey!), want, algo.join(' '));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.match(certificatePublicKey(Buffer.from('junk')).error!, /does not parse/);
});
