// Valid frames a module host may send, for the host-channel fuzzer to start from: log lines,
// PIN requests and outcomes, answers to the requests actually pending (load, status, sign),
// and errors. Built with the host's own encoders, so the fuzzer mutates the real format.
import { generateKeyPairSync } from 'node:crypto';
import { FrameKind } from '../../src/host/channel';
import { encodeHostError, encodeHostEvent, encodeLoadResult } from '../../src/host/host-frames';
import { encodeHostStatus } from '../../src/host/host-status';
import type { LoadResult } from '../../src/host/messages';
import { encodePublicKeyBlob } from '../../src/protocol/key-blob';
import { publicKeyFromJwk } from '../../src/protocol/jwk';
import { SshWriter } from '../../src/protocol/wire';

export const FUZZ_TOKEN = { label: 'fuzz', serial: '0001' };
const OTHER_TOKEN = { label: 'victim', serial: '0002' };

const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
export const FUZZ_PUBLIC_KEY = publicKeyFromJwk(jwk);
export const FUZZ_BLOB = encodePublicKeyBlob(FUZZ_PUBLIC_KEY);
/** A well-formed SSH signature blob (its bytes do not verify; the channel only checks the shape). */
export const FUZZ_SIGNATURE = new SshWriter().string('ssh-ed25519').string(Buffer.alloc(64, 7)).toBuffer();

export function frameOf(kind: number, id: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(9 + payload.length);
  f.writeUInt32BE(5 + payload.length, 0);
  f[4] = kind;
  f.writeUInt32BE(id >>> 0, 5);
  payload.copy(f, 9);
  return f;
}

export function loadResult(pinAccepted: boolean, token = FUZZ_TOKEN): LoadResult {
  return {
    identities: [{ blob: FUZZ_BLOB, publicKey: FUZZ_PUBLIC_KEY, comment: 'fuzz-ed25519', token: token.label, slot: 'Fuzz Reader 00 00' }],
    report: [{ token: token.label, serial: token.serial, added: 1, pinAccepted, alreadyLoggedIn: false }],
    pcsc: false,
  };
}

const STATUS = encodeHostStatus({
  modulePath: '/fuzz/libfuzz.so',
  pid: 4242,
  serialized: false,
  tokens: [
    {
      token: 'fuzz',
      serial: '0001',
      slot: 3,
      present: true,
      loggedIn: true,
      flags: 0x40d,
      pinState: ['CKF_USER_PIN_COUNT_LOW'],
      keys: 1,
      keyList: [{ fingerprint: 'SHA256:abc', id: '01', label: 'fuzz-ed25519', problems: ['none'] }],
      sessions: 2,
      lastError: { ckr: 'CKR_DEVICE_REMOVED', message: 'pulled', at: '2026-01-01T00:00:00Z' },
    },
  ],
});

/** Payloads of each kind, valid for the ids pending now. */
export function validFrames(ids: { sign: number; status: number; load?: number }, token = FUZZ_TOKEN): Buffer[] {
  const ev = (e: Parameters<typeof encodeHostEvent>[0]) => frameOf(FrameKind.EVENT, 0, encodeHostEvent(e));
  const frames = [
    ev({ type: 'log', level: 'info', message: 'token fuzz: signed again after reconnecting (12 ms)' }),
    ev({ type: 'log', level: 'warn', message: 'line one\nforged line\x1b[31m' }),
    ev({ type: 'pin-request', requestId: 1, token: token, why: { keyLabel: 'fuzz-ed25519', triesLeft: 'ok' } }),
    ev({ type: 'pin-request', requestId: 2, token: OTHER_TOKEN, why: { contextSpecific: true } }),
    ev({ type: 'pin-outcome', token, outcome: 'absent' }),
    ev({ type: 'pin-outcome', token, outcome: 'present' }),
    ev({ type: 'pin-outcome', token, outcome: 'rejected' }),
    ev({ type: 'pin-outcome', token: OTHER_TOKEN, outcome: 'locked' }),
    frameOf(FrameKind.SIGNATURE, ids.sign, FUZZ_SIGNATURE),
    frameOf(FrameKind.ERROR, ids.sign, encodeHostError({ name: 'TokenError', message: 'C_Sign failed: CKR_DEVICE_ERROR', ckr: 'CKR_DEVICE_ERROR', fn: 'C_Sign' })),
    frameOf(FrameKind.RESULT, ids.status, STATUS),
    frameOf(FrameKind.ERROR, ids.status, encodeHostError({ name: 'Error', message: 'busy' })),
  ];
  if (ids.load !== undefined) frames.push(frameOf(FrameKind.RESULT, ids.load, encodeLoadResult(loadResult(false, token))));
  return frames;
}
