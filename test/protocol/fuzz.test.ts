// Hostile input: thousands of mutated valid messages. Decoders may reject them, but only
// with WireError (FrameTooLargeError for framing): anything else would be a crash path.
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import test from 'node:test';
import { decodeRequest, decodeResponse } from '../../src/protocol/agent-messages';
import { parseAuthorizedKeysLine } from '../../src/protocol/authorized-keys';
import { FrameDecoder, FrameTooLargeError, frame } from '../../src/protocol/framing';
import { SSH_AGENTC_ADD_ID_CONSTRAINED, SSH_AGENTC_ADD_IDENTITY } from '../../src/protocol/message-numbers';
import { decodePublicKeyBlob } from '../../src/protocol/key-blob';
import { decodeSshSignature, encodeSshSignature, signatureAlgorithm } from '../../src/protocol/signature';
import { verifySshSignature } from '../../src/protocol/verify';
import { WireError } from '../../src/protocol/wire';
import { corpusKeys, encodedRequests, responseCorpus } from './corpus';
import { mutate, rng } from './mutate';

function onlyWireErrors(what: string, input: Buffer, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof WireError)) {
      assert.fail(`${what} threw ${(e as Error)?.name}: ${(e as Error)?.message} on ${input.toString('hex').slice(0, 400)}`);
    }
  }
}

// Bodies that carry a private key: decoding one imports the key into OpenSSL to check it
// (about 2 ms for RSA). Decoded for each of them, the two tests below took minutes on a
// loaded machine and passed the file's time limit, which looked like a hang.
const CARRIES_PRIVATE_KEY = new Set([SSH_AGENTC_ADD_IDENTITY, SSH_AGENTC_ADD_ID_CONSTRAINED]);

test('decoders throw only WireError on mutated messages', () => {
  const seed = Number(process.env.PROTOCOL_FUZZ_SEED ?? Date.now() % 1e9);
  const rounds = Number(process.env.PROTOCOL_FUZZ_ROUNDS ?? 10_000);
  const rand = rng(seed);
  const requests = encodedRequests();
  const responses = responseCorpus();
  const keys = corpusKeys();
  const blobs = keys.map((k) => k.blob);
  const signatures = keys.map((k) => {
    const { algorithm, hash } = signatureAlgorithm(k.pk, 4);
    const raw = sign(hash, Buffer.of(1), k.pk.kind === 'ecdsa' ? { key: k.privateKey, dsaEncoding: 'ieee-p1363' } : k.privateKey);
    return { blob: k.blob, sig: encodeSshSignature(k.pk, algorithm, raw) };
  });
  for (const s of signatures) assert.ok(verifySshSignature(decodePublicKeyBlob(s.blob), s.sig, Buffer.of(1)));
  let rejected = 0;
  let decoded = 0;
  for (let i = 0; i < rounds; i++) {
    const original = requests[i % requests.length];
    // A key-bearing request whose key survived the mutation costs a key import (about 2 ms for
    // RSA, a third of the corpus): one in five of them is plenty, as for the verifications.
    const req = mutate(original, rand);
    if (!CARRIES_PRIVATE_KEY.has(original[0]) || i % 5 === 0) {
      decoded++;
      try {
        decodeRequest(req);
      } catch (e) {
        if (!(e instanceof WireError)) assert.fail(`seed ${seed} round ${i}: ${(e as Error).name}: ${(e as Error).message}`);
        rejected++;
      }
    }
    const resp = mutate(responses[i % responses.length], rand);
    onlyWireErrors(`seed ${seed} decodeResponse`, resp, () => decodeResponse(resp));
    const blob = mutate(blobs[i % blobs.length], rand);
    onlyWireErrors(`seed ${seed} decodePublicKeyBlob`, blob, () => decodePublicKeyBlob(blob));
    onlyWireErrors(`seed ${seed} decodeSshSignature`, blob, () => decodeSshSignature(blob));
    if (i % 5 === 0) {
      // Key import and verification cost more; a fifth of the rounds is plenty.
      const sig = mutate(signatures[i % signatures.length].sig, rand);
      const keyBlob = mutate(signatures[i % signatures.length].blob, rand);
      onlyWireErrors(`seed ${seed} verifySshSignature`, sig, () => verifySshSignature(decodePublicKeyBlob(keyBlob), sig, Buffer.of(1)));
    }
    onlyWireErrors(`seed ${seed} parseAuthorizedKeysLine`, blob, () => parseAuthorizedKeysLine(`ssh-ed25519 ${blob.toString('base64')}`));
  }
  // Sanity: the mutations are not all harmless, nor all fatal.
  assert.ok(rejected > decoded * 0.3 && rejected < decoded, `rejected ${rejected} of ${decoded}`);
});

test('pure random bodies after each message number: only WireError', () => {
  const rand = rng(42);
  for (let i = 0; i < 5_000; i++) {
    const body = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)));
    body[0] = i % 32;
    onlyWireErrors('decodeRequest', body, () => decodeRequest(body));
    onlyWireErrors('decodeResponse', body, () => decodeResponse(body));
  }
});

test('framing of random streams throws only FrameTooLargeError', () => {
  const rand = rng(7);
  const good = Buffer.concat(encodedRequests().map(frame));
  for (let i = 0; i < 2_000; i++) {
    const stream = mutate(good, rand);
    const dec = new FrameDecoder();
    try {
      for (let p = 0; p < stream.length; ) {
        const n = 1 + Math.floor(rand() * 300);
        for (const body of dec.push(stream.subarray(p, p + n))) {
          // The decoder test covers key-bearing bodies; here they only pass through the framing.
          if (!CARRIES_PRIVATE_KEY.has(body[0])) onlyWireErrors('decodeRequest', body, () => decodeRequest(body));
        }
        p += n;
      }
    } catch (e) {
      assert.ok(e instanceof FrameTooLargeError, String(e));
    }
  }
});
