// OpenSSH certificates made by the real ssh-keygen -s, decoded with our codec: every field,
// the CA signature (and a forged one), ADD_IDENTITY of a certificate key byte for byte, and
// the host-certificate rules destination constraints apply (OpenSSH's sshkey_cert_check_host).
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeRequest, encodeRequest, type RequestOf } from '../../src/protocol/agent-messages';
import { decodeCertificate, decodeVerifiedCertificate, SSH2_CERT_TYPE_HOST, SSH2_CERT_TYPE_USER } from '../../src/protocol/certificate';
import { authorizedKeysLine, parseAuthorizedKeysLine } from '../../src/protocol/authorized-keys';
import { checkHostCertificate } from '../../src/agent/host-cert-match';
import { certBlob, makeCa } from '../helpers/ssh-ca';
import { corpusKeys } from './corpus';
import { mutate, rng } from './mutate';
import { WireError } from '../../src/protocol/wire';
import { sshKeygen, tempDir } from './helpers';

const { dir, cleanup } = tempDir('tt-cert-');
after(cleanup);
const ca = makeCa(dir);

test('every certifiable key type: fields decode as ssh-keygen -L shows them, and the CA signature verifies', async () => {
  for (const [type, bits] of [['ed25519'], ['ecdsa', 256], ['ecdsa', 384], ['ecdsa', 521], ['rsa', 2048]] as const) {
    const key = await sshKeygen(dir, `u-${type}${bits ?? ''}`, type, bits);
    const certPath = ca.sign(`${key}.pub`, { keyId: `id ${type}`, principals: ['alice', 'bob'], validity: '20300101:20300201', extraArgs: ['-z', '42'] });
    const cert = decodeVerifiedCertificate(certBlob(certPath));
    const plain = parseAuthorizedKeysLine(fs.readFileSync(`${key}.pub`, 'utf8'));
    assert.deepEqual(cert.publicKey, plain.publicKey);
    assert.deepEqual(cert.keyBlob, plain.blob);
    assert.equal(cert.type, fs.readFileSync(certPath, 'utf8').split(' ')[0]);
    assert.equal(cert.keyId, `id ${type}`);
    assert.equal(cert.serial, 42n);
    assert.equal(cert.certType, SSH2_CERT_TYPE_USER);
    assert.deepEqual(cert.principals, ['alice', 'bob']);
    assert.equal(cert.validAfter, BigInt(Date.UTC(2030, 0, 1) / 1000) + BigInt(new Date(2030, 0, 1).getTimezoneOffset() * 60));
    assert.deepEqual(cert.extensions.map((e) => e.name), ['permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty', 'permit-user-rc']);
    assert.deepEqual(cert.signatureKey, parseAuthorizedKeysLine(ca.pub).blob);
  }
});

test('a changed byte anywhere under the CA signature, or in it, fails verification', async () => {
  const key = await sshKeygen(dir, 'tamper', 'ed25519');
  const blob = certBlob(ca.sign(`${key}.pub`, { keyId: 'tamper', principals: ['alice'] }));
  const principalAt = blob.indexOf(Buffer.from('alice'));
  for (const at of [principalAt, blob.length - 3]) {
    const bad = Buffer.from(blob);
    bad[at] ^= 0x20;
    assert.doesNotThrow(() => decodeCertificate(bad));
    assert.throws(() => decodeVerifiedCertificate(bad), /invalid CA signature/);
  }
});

test('ADD_IDENTITY of a certificate key round-trips byte for byte, for every type', () => {
  const others = corpusKeys();
  for (const [i, k] of corpusKeys().entries()) {
    const pubPath = path.join(dir, `rt-${i}.pub`);
    fs.writeFileSync(pubPath, `${authorizedKeysLine(k.pk, 'rt')}\n`);
    const cert = certBlob(ca.sign(pubPath, { keyId: 'rt', principals: ['alice'] }));
    const body = encodeRequest({ type: 'SSH_AGENTC_ADD_ID_CONSTRAINED', key: { jwk: k.jwk, comment: 'c', certificate: cert }, constraints: [{ kind: 'lifetime', seconds: 5 }] });
    const req = decodeRequest(body) as RequestOf<'SSH_AGENTC_ADD_ID_CONSTRAINED'>;
    assert.equal(req.type, 'SSH_AGENTC_ADD_ID_CONSTRAINED');
    assert.deepEqual(req.key.certificate?.blob, cert);
    assert.deepEqual(req.key.publicKey, k.pk);
    assert.deepEqual(encodeRequest(req), body);
    // The same key with another key's certificate does not decode.
    const other = others[i];
    assert.throws(() => decodeRequest(encodeRequest({ type: 'SSH_AGENTC_ADD_IDENTITY', key: { jwk: other.jwk, comment: 'c', certificate: cert }, constraints: [] })));
  }
});

test('host certificates for destination constraints: principals (none match nothing), wildcards, type, validity, CA algorithm', async () => {
  const key = await sshKeygen(dir, 'host', 'ed25519');
  const host = (name: string, principals: string[], o: { validity?: string; user?: boolean; extraArgs?: string[]; caKey?: ReturnType<typeof makeCa> } = {}) =>
    decodeVerifiedCertificate(certBlob((o.caKey ?? ca).sign(`${key}.pub`, { keyId: name, principals, host: !o.user, validity: o.validity, extraArgs: o.extraArgs, out: path.join(dir, `${name}-cert.pub`) })));
  assert.equal(host('named', ['db.example.org']).certType, SSH2_CERT_TYPE_HOST);
  assert.deepEqual(checkHostCertificate(host('named', ['db.example.org']), 'db.example.org'), { ok: true });
  assert.equal(checkHostCertificate(host('named2', ['db.example.org']), 'web.example.org').ok, false);
  assert.deepEqual(checkHostCertificate(host('none', []), 'db.example.org'), { ok: false, reason: 'certificate lacks principal list' });
  assert.deepEqual(checkHostCertificate(host('wild', ['*.example.org']), 'db.example.org'), { ok: true });
  assert.equal(checkHostCertificate(host('wild2', ['*.example.org']), 'example.org').ok, false);
  assert.deepEqual(checkHostCertificate(host('old', ['db.example.org'], { validity: '20200101:20200102' }), 'db.example.org'), { ok: false, reason: 'expired' });
  assert.deepEqual(checkHostCertificate(host('future', ['db.example.org'], { validity: '20990101:20990102' }), 'db.example.org'), { ok: false, reason: 'not yet valid' });
  assert.deepEqual(checkHostCertificate(host('user', ['db.example.org'], { user: true }), 'db.example.org'), { ok: false, reason: 'not a host certificate' });
  const rsaCa = makeCa(dir, 'rsa', 'rsa-ca');
  assert.deepEqual(checkHostCertificate(host('sha2', ['db.example.org'], { caKey: rsaCa, extraArgs: ['-t', 'rsa-sha2-512'] }), 'db.example.org'), { ok: true });
  assert.deepEqual(checkHostCertificate(host('sha1', ['db.example.org'], { caKey: rsaCa, extraArgs: ['-t', 'ssh-rsa'] }), 'db.example.org'), {
    ok: false,
    reason: 'certificate signed with a disallowed algorithm',
  });
});

test('mutated certificate keys in ADD_IDENTITY and associated-certs decode or fail with a WireError, never anything else', () => {
  const k = corpusKeys()[1];
  const pubPath = path.join(dir, 'fuzz.pub');
  fs.writeFileSync(pubPath, `${authorizedKeysLine(k.pk, 'fuzz')}\n`);
  const cert = certBlob(ca.sign(pubPath, { keyId: 'fuzz', principals: ['alice', 'bob'] }));
  const seeds = [
    encodeRequest({ type: 'SSH_AGENTC_ADD_IDENTITY', key: { jwk: k.jwk, comment: 'c', certificate: cert }, constraints: [] }),
    encodeRequest({ type: 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED', readerId: '/x.so', pin: Buffer.alloc(0), constraints: [{ kind: 'associated-certs', certOnly: true, certs: [cert, cert] }] }),
  ];
  const rand = rng(0xce27);
  for (let i = 0; i < 1500; i++) {
    const body = mutate(seeds[i % seeds.length], rand);
    try {
      const req = decodeRequest(body);
      if (req.type === 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED') {
        for (const c of req.constraints) if (c.kind === 'associated-certs') for (const b of c.certs) tryDecodeCert(b);
      }
    } catch (err) {
      assert.ok(err instanceof WireError, `mutation ${i}: ${(err as Error).stack}`);
    }
  }
});

function tryDecodeCert(blob: Buffer): void {
  try {
    decodeVerifiedCertificate(blob);
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
}
