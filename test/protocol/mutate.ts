// Message mutation for fuzzing: a seeded PRNG and structure-aware byte mutations (length
// fields set to boundary values, truncation, splicing, retyping). Shared with the socket fuzzer.

// Small deterministic PRNG so a failure can be replayed from the printed seed.
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BOUNDARY = [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x40000, 0x7fffffff, 0xfffffffe, 0xffffffff];

export function mutate(input: Buffer, rand: () => number): Buffer {
  let b = Buffer.from(input);
  const at = () => Math.floor(rand() * Math.max(1, b.length));
  const steps = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < steps; i++) {
    switch (Math.floor(rand() * 8)) {
      case 0: // flip a bit
        if (b.length) b[at()] ^= 1 << Math.floor(rand() * 8);
        break;
      case 1: // random byte
        if (b.length) b[at()] = Math.floor(rand() * 256);
        break;
      case 2: // truncate
        b = b.subarray(0, at());
        break;
      case 3: // boundary uint32 over a (likely) length field
        if (b.length >= 4) b.writeUInt32BE(BOUNDARY[Math.floor(rand() * BOUNDARY.length)], Math.min(at(), b.length - 4));
        break;
      case 4: // insert random bytes
        b = Buffer.concat([b.subarray(0, at()), Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256))), b.subarray(at())]);
        break;
      case 5: // duplicate a slice
        b = Buffer.concat([b, b.subarray(at(), at())]);
        break;
      case 6: // remove a slice
        b = Buffer.concat([b.subarray(0, at()), b.subarray(at())]);
        break;
      case 7: // different message type, same body
        if (b.length) b[0] = [5, 6, 11, 12, 13, 14, 17, 18, 19, 20, 21, 22, 23, 25, 26, 27, 28, 29][Math.floor(rand() * 18)];
        break;
    }
  }
  return b;
}

