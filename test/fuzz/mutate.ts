// Mutations of valid agent messages, driven by a seeded generator so a failing run can be
// repeated (FUZZ_SEED). Body mutations keep a correct frame header; frame mutations lie in
// the header itself. Each produces the exact bytes to write and says whether the agent is
// expected to drop the connection after them (a 0 or > 256 KiB declared length).
import { frame } from './raw-client';

export const MAX_AGENT_MESSAGE = 256 * 1024;

/** mulberry32: small, fast, good enough to pick mutations; not for secrets. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export interface Piece {
  bytes: Buffer;
  /** Messages this piece counts as (a pipelined burst counts each). */
  messages: number;
  /** The agent should close the connection after this (declared length 0 or over the cap). */
  closes: boolean;
  kind: string;
}

const INTERESTING_U32 = [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, MAX_AGENT_MESSAGE - 5, MAX_AGENT_MESSAGE, MAX_AGENT_MESSAGE + 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const INTERESTING_U8 = [0, 1, 0x7f, 0x80, 0xfe, 0xff];

type BodyMutator = (b: Buffer, rng: Rng, corpus: readonly Buffer[]) => Buffer;

export const BODY_MUTATORS: [string, BodyMutator][] = [
  [
    'bitflip',
    (b, rng) => {
      const out = Buffer.from(b);
      for (let i = 1 + rng.int(8); i > 0; i--) out[rng.int(out.length)] ^= 1 << rng.int(8);
      return out;
    },
  ],
  [
    'byte',
    (b, rng) => {
      const out = Buffer.from(b);
      out[rng.int(out.length)] = rng.chance(0.5) ? rng.pick(INTERESTING_U8) : rng.int(256);
      return out;
    },
  ],
  ['truncate', (b, rng) => b.subarray(0, 1 + rng.int(Math.max(1, b.length - 1)))],
  [
    'length-lie',
    (b, rng) => {
      // Overwrite a uint32 at a random offset: most offsets in these messages hit a string length.
      if (b.length < 5) return b;
      const out = Buffer.from(b);
      out.writeUInt32BE(rng.pick(INTERESTING_U32), 1 + rng.int(out.length - 4));
      return out;
    },
  ],
  [
    'splice',
    (b, rng, corpus) => {
      const other = rng.pick(corpus);
      return Buffer.concat([b.subarray(0, rng.int(b.length + 1)), other.subarray(rng.int(other.length))]);
    },
  ],
  [
    'insert',
    (b, rng) => {
      const at = rng.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(32)), b.subarray(at)]);
    },
  ],
  [
    'duplicate',
    (b, rng) => {
      const from = rng.int(b.length);
      const chunk = b.subarray(from, from + 1 + rng.int(64));
      const at = rng.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), chunk, chunk, b.subarray(at)]);
    },
  ],
  ['random-type', (b, rng) => Buffer.concat([Buffer.of(rng.int(256)), b.subarray(1)])],
  ['random', (_b, rng) => rng.bytes(1 + rng.int(rng.chance(0.9) ? 64 : 4096))],
  ['type-only', (_b, rng) => Buffer.of(rng.int(256))],
];

/**
 * One piece that keeps the stream in sync: a valid message, a mutated body under a correct
 * header, a body at the size cap, or a pipelined burst. Each gets exactly one reply.
 */
export function cleanPiece(rng: Rng, corpus: readonly Buffer[]): Piece {
  const seed = rng.pick(corpus);
  const r = rng.next();
  if (r < 0.15) return { bytes: frame(seed), messages: 1, closes: false, kind: 'valid' };
  if (r < 0.95) {
    const [name, m] = rng.pick(BODY_MUTATORS);
    let body = m(seed, rng, corpus);
    if (rng.chance(0.1)) body = rng.pick(BODY_MUTATORS)[1](body.length ? body : seed, rng, corpus); // stacked
    if (body.length === 0) body = Buffer.of(rng.int(256));
    return { bytes: frame(body), messages: 1, closes: false, kind: name };
  }
  if (r < 0.952) {
    // A body at the cap: the largest message the agent must still read and answer.
    const body = Buffer.concat([Buffer.of(rng.pick([13, 17, 27, 200])), rng.bytes(MAX_AGENT_MESSAGE - 1 - rng.int(1024))]);
    return { bytes: frame(body), messages: 1, closes: false, kind: 'max-size' };
  }
  // A pipelined burst of valid requests in one write.
  const n = 2 + rng.int(30);
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) parts.push(frame(rng.pick(corpus)));
  return { bytes: Buffer.concat(parts), messages: n, closes: false, kind: 'burst' };
}

/**
 * The last piece of a connection, after which the stream cannot be trusted: a header that
 * lies about its length (shorter: the rest reads as a new frame; longer: the agent waits),
 * a declared length over the cap or of zero (the agent must drop the connection), or half a
 * frame followed by a disconnect.
 */
export function terminalPiece(rng: Rng, corpus: readonly Buffer[]): Piece {
  const body = Buffer.from(rng.pick(corpus));
  const h = Buffer.alloc(4);
  const r = rng.next();
  if (r < 0.25) {
    h.writeUInt32BE(1 + rng.int(Math.max(1, body.length - 1)));
    return { bytes: Buffer.concat([h, body]), messages: 1, closes: false, kind: 'short-header' };
  }
  if (r < 0.45) {
    h.writeUInt32BE(body.length + 1 + rng.int(1 << rng.int(18)));
    return { bytes: Buffer.concat([h, body]), messages: 1, closes: false, kind: 'long-header' };
  }
  if (r < 0.65) {
    h.writeUInt32BE(rng.pick([MAX_AGENT_MESSAGE + 1, 0x7fffffff, 0xffffffff, 0x10000000]));
    return { bytes: Buffer.concat([h, rng.bytes(rng.int(16))]), messages: 1, closes: true, kind: 'huge-length' };
  }
  if (r < 0.8) return { bytes: Buffer.alloc(4), messages: 1, closes: true, kind: 'zero-length' };
  const whole = frame(body);
  return { bytes: whole.subarray(0, rng.int(whole.length)), messages: 1, closes: false, kind: 'partial-frame' };
}
