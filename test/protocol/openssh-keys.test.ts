// Byte-exactness against ssh-keygen: our blobs, one-line keys and fingerprints must equal
// what OpenSSH writes and prints for the same key.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { authorizedKeysLine, parseAuthorizedKeysLine } from '../../src/protocol/authorized-keys';
import { fingerprintMd5, fingerprintSha256 } from '../../src/protocol/fingerprint';
import { decodePublicKeyBlob, encodePublicKeyBlob } from '../../src/protocol/key-blob';
import { keyBits } from '../../src/protocol/public-key';
import { WireError } from '../../src/protocol/wire';
import { sh, sshKeygen, tempDir } from './helpers';

const KEYS: { name: string; type: string; bits?: number }[] = [
  { name: 'rsa2048', type: 'rsa', bits: 2048 },
  { name: 'rsa3072', type: 'rsa', bits: 3072 },
  { name: 'p256', type: 'ecdsa', bits: 256 },
  { name: 'p384', type: 'ecdsa', bits: 384 },
  { name: 'p521', type: 'ecdsa', bits: 521 },
  { name: 'ed25519', type: 'ed25519' },
];

test('public keys, .pub lines and fingerprints match ssh-keygen', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  for (const k of KEYS) {
    await t.test(k.name, async () => {
      const path = await sshKeygen(dir, k.name, k.type, k.bits, `${k.name} comment with spaces`);
      const pubLine = readFileSync(`${path}.pub`, 'utf8').trim();
      const parsed = parseAuthorizedKeysLine(pubLine);
      const blob = Buffer.from(pubLine.split(' ')[1], 'base64');

      assert.deepEqual(encodePublicKeyBlob(decodePublicKeyBlob(blob)), blob);
      assert.equal(authorizedKeysLine(parsed.publicKey, parsed.comment), pubLine);
      assert.equal(parsed.comment, `${k.name} comment with spaces`);

      const [bits, sha] = (await sh('ssh-keygen', ['-l', '-f', `${path}.pub`])).stdout.split(' ');
      const md5 = (await sh('ssh-keygen', ['-l', '-E', 'md5', '-f', `${path}.pub`])).stdout.split(' ')[1];
      assert.equal(fingerprintSha256(blob), sha);
      assert.equal(fingerprintMd5(blob), md5);
      assert.equal(keyBits(parsed.publicKey), Number(bits));
    });
  }
});

test('authorized_keys lines with options parse; other lines give WireError', () => {
  const { publicKey } = parseAuthorizedKeysLine(
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
  );
  const line = authorizedKeysLine(publicKey);
  const withOpts = parseAuthorizedKeysLine(`no-pty,command="echo a b",from="10.0.0.*" ${line} me@host`);
  assert.equal(withOpts.options, 'no-pty,command="echo a b",from="10.0.0.*"');
  assert.equal(withOpts.comment, 'me@host');
  assert.deepEqual(withOpts.publicKey, publicKey);

  for (const bad of ['', '# comment', 'ssh-dss AAAAB3NzaC1kc3M=', 'ssh-ed25519 !!!', 'ssh-rsa ' + line.split(' ')[1]]) {
    assert.throws(() => parseAuthorizedKeysLine(bad), WireError, bad);
  }
});

test('decodePublicKeyBlob names unknown types and checks points', () => {
  const { publicKey } = parseAuthorizedKeysLine(
    'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEgoOY9SvuUuoTaG4nAM1YDDGg6BIGFt1Fk6tLi0+74OyaJ8yeOkWXrvfy6NEPHgB/Om5vJrKnNXyOPNAzz8KzA=',
  );
  const blob = encodePublicKeyBlob(publicKey);
  assert.throws(() => decodePublicKeyBlob(Buffer.concat([blob, Buffer.of(0)])), /trailing/);
  const bad = Buffer.from(blob);
  bad[blob.length - 65] = 0x02; // compressed-point prefix
  assert.throws(() => decodePublicKeyBlob(bad), /starting with 0x04/);
  const dss = Buffer.from('AAAAB3NzaC1kc3MAAAAA', 'base64');
  assert.throws(() => decodePublicKeyBlob(dss), { name: 'WireError', message: 'unsupported key type "ssh-dss"' });
});
