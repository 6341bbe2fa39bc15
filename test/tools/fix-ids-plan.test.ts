// The fix-ids rules on object lists, for the cases a token fixture cannot easily show.
import test from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { publicKeyFromJwk } from '../../src/pkcs11/key-material';
import type { TokenObject } from '../../src/pkcs11/objects';
import type { PublicKey } from '../../src/protocol/public-key';
import { keyIdentifier, planIdFixes } from '../../src/tools/fix-ids-plan';

let handle = 0;
function ecKey(): PublicKey {
  return publicKeyFromJwk(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }))!;
}
function obj(kind: TokenObject['kind'], id: string, label: string, publicKey?: PublicKey): TokenObject {
  return { kind, handle: Buffer.from([handle++]), id: Buffer.from(id, 'hex'), label, algorithm: 'nistp256', publicKey, canSign: kind === 'private-key' ? true : undefined };
}

test('consistent objects: no findings', () => {
  const k = ecKey();
  const plan = planIdFixes([obj('private-key', '01', 'a', k), obj('public-key', '01', 'a', k), obj('certificate', '01', 'a', k)]);
  assert.deepEqual(plan.findings, []);
});

test('a public key on two private keys is ambiguous: reported, not guessed', () => {
  const k = ecKey();
  const plan = planIdFixes([obj('private-key', '01', 'a', k), obj('private-key', '02', 'b', k), obj('certificate', '07', 'c', k)]);
  assert.equal(plan.changes.length, 0);
  assert.match(plan.findings[0].problem, /belongs to 2 private keys/);
  assert.match(plan.findings[0].leftAlone!, /ambiguous/);
});

test('a CA certificate with no private key here is reported and left alone', () => {
  const plan = planIdFixes([obj('private-key', '01', 'a', ecKey()), obj('certificate', '09', 'ca', ecKey())]);
  assert.equal(plan.changes.length, 0);
  assert.match(plan.findings[0].problem, /CKA_ID 09 matches no private key/);
});

test('a private key without public part: its ID-mates are not guessed without a proof, are matched with one', () => {
  const k = ecKey();
  const priv = obj('private-key', '01', 'a');
  const cert = obj('certificate', '05', 'a', k);
  const unproven = planIdFixes([priv, cert]);
  assert.equal(unproven.changes.length, 0);
  assert.match(unproven.findings[0].problem, /CKA_ID 05 matches no private key/);
  const proven = planIdFixes([priv, cert], new Map([[priv, k]]));
  assert.equal(proven.changes.length, 1);
  assert.deepEqual(proven.changes[0].to, Buffer.from('01', 'hex'));
});

test('a shared ID is kept by the key its objects under that ID belong to; the other key moves to its key identifier', () => {
  const k1 = ecKey();
  const k2 = ecKey();
  const a = obj('private-key', '01', 'a', k1);
  const b = obj('private-key', '01', 'b', k2);
  const objects = [a, b, obj('certificate', '01', 'a', k1), obj('public-key', '01', 'a', k1), obj('public-key', '07', 'b', k2)];
  const plan = planIdFixes(objects);
  const moved = plan.changes.map((c) => [c.object.label, c.object.kind, c.to.toString('hex')]);
  assert.deepEqual(moved, [
    ['b', 'private-key', keyIdentifier(k2).toString('hex')],
    ['b', 'public-key', keyIdentifier(k2).toString('hex')],
  ]);
  // Applying the plan and planning again finds nothing.
  for (const c of plan.changes) c.object.id = c.to;
  assert.deepEqual(planIdFixes(objects).findings, []);
});

test('two private keys with empty IDs and no public part: reported, nothing invented', () => {
  const plan = planIdFixes([obj('private-key', '', 'x'), obj('private-key', '', 'y')]);
  assert.equal(plan.changes.length, 0);
  assert.equal(plan.findings.length, 2);
  assert.ok(plan.findings.every((f) => /public key is unknown/.test(f.leftAlone!)));
});
