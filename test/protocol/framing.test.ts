import assert from 'node:assert/strict';
import test from 'node:test';
import { FrameDecoder, FrameTooLargeError, MAX_AGENT_MESSAGE, frame } from '../../src/protocol/framing';

const bodies = [Buffer.of(11), Buffer.from('0d0000000100', 'hex'), Buffer.alloc(70_000, 7), Buffer.alloc(MAX_AGENT_MESSAGE, 1)];
const stream = () => Buffer.concat(bodies.map(frame));

test('coalesced frames come out whole and in order', () => {
  assert.deepEqual(new FrameDecoder().push(stream()), bodies);
});

test('any split, down to single bytes, gives the same bodies', () => {
  for (const size of [1, 2, 3, 5, 4096, 65536]) {
    const s = stream();
    const dec = new FrameDecoder();
    const out: Buffer[] = [];
    for (let i = 0; i < s.length; i += size) out.push(...dec.push(s.subarray(i, i + size)));
    assert.deepEqual(out, bodies, `chunk size ${size}`);
    assert.equal(dec.pending, 0);
  }
});

test('random splits', () => {
  const s = stream();
  for (let round = 0; round < 50; round++) {
    const copy = Buffer.from(s);
    const dec = new FrameDecoder();
    const out: Buffer[] = [];
    let i = 0;
    while (i < copy.length) {
      const n = 1 + Math.floor(Math.random() ** 3 * 100_000);
      out.push(...dec.push(copy.subarray(i, i + n)));
      i += n;
    }
    assert.deepEqual(out, bodies);
  }
});

test('a partial frame waits; pending counts it', () => {
  const dec = new FrameDecoder();
  assert.deepEqual(dec.push(Buffer.of(0, 0, 0, 3, 1)), []);
  assert.equal(dec.pending, 5);
  assert.deepEqual(dec.push(Buffer.of(2, 3, 0)), [Buffer.of(1, 2, 3)]);
  assert.equal(dec.pending, 1);
});

test('oversized and zero-length frames throw FrameTooLargeError, and keep throwing', () => {
  const big = new FrameDecoder();
  const header = Buffer.alloc(4);
  header.writeUInt32BE(MAX_AGENT_MESSAGE + 1);
  assert.throws(() => big.push(header), FrameTooLargeError);
  assert.throws(() => big.push(frame(Buffer.of(11))), FrameTooLargeError);

  const zero = new FrameDecoder();
  assert.throws(() => zero.push(Buffer.concat([frame(Buffer.of(11)), Buffer.alloc(4)])), (e: unknown) => {
    return e instanceof FrameTooLargeError && e.declaredLength === 0;
  });
  assert.throws(() => new FrameDecoder().push(Buffer.of(0xff, 0xff, 0xff, 0xff)), /exceeds the 262144-byte limit/);
  assert.throws(() => frame(Buffer.alloc(0)), FrameTooLargeError);
  assert.throws(() => frame(Buffer.alloc(MAX_AGENT_MESSAGE + 1)), FrameTooLargeError);
});

test('pushed chunks are wiped once consumed (they may carry a PIN)', () => {
  const chunk = frame(Buffer.from('\x14secret-pin'));
  const [body] = new FrameDecoder().push(chunk);
  assert.equal(body.toString(), '\x14secret-pin');
  assert.ok(chunk.every((b) => b === 0));
});
