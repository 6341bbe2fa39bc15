// The module-host channel keeps no stray copy of a PIN frame: a frame split across reads has
// its pieces zeroed once joined, and a secret frame is zeroed once written. Bad framing or a
// throwing frame handler ends the channel with a ChannelError instead of escaping.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import test from 'node:test';
import { Channel, ChannelError, FrameKind, type Frame } from '../../src/host/channel';

function frameBytes(kind: FrameKind, id: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(9 + payload.length);
  f.writeUInt32BE(5 + payload.length, 0);
  f[4] = kind;
  f.writeUInt32BE(id, 5);
  payload.copy(f, 9);
  return f;
}

test('a frame split across reads: both pieces are zeroed once joined', async () => {
  const stream = new PassThrough();
  const got: Frame[] = [];
  new Channel(stream, (f) => got.push({ ...f, payload: Buffer.from(f.payload) }), () => undefined);
  const whole = frameBytes(FrameKind.CALL, 7, Buffer.from('PIN=123456'));
  const first = Buffer.from(whole.subarray(0, 12));
  const second = Buffer.from(whole.subarray(12));
  stream.write(first);
  stream.write(second);
  await new Promise((r) => setImmediate(r));
  assert.equal(got.length, 1);
  assert.equal(got[0].payload.toString(), 'PIN=123456');
  assert.ok(first.every((b) => b === 0), 'the first piece was zeroed');
  assert.ok(second.every((b) => b === 0), 'the second piece was zeroed');
});

test('a secret frame: the payload is zeroed at once, the written frame once the write is done', async () => {
  const stream = new PassThrough();
  const written: Buffer[] = [];
  stream.on('data', (b: Buffer) => written.push(b));
  const channel = new Channel(new PassThrough(), () => undefined, () => undefined);
  (channel as unknown as { stream: PassThrough }).stream = stream;
  const payload = Buffer.from('PIN=654321');
  channel.send(FrameKind.CALL, 1, payload, true);
  assert.ok(payload.every((b) => b === 0));
  await new Promise((r) => setImmediate(r));
  assert.equal(written.length, 1);
  assert.ok(written[0].every((b) => b === 0), 'the frame handed to the stream was zeroed after the write');
});

test('a bad length or a throwing handler ends the channel with a ChannelError, never an exception', async () => {
  for (const [bytes, handler] of [
    [Buffer.from('\xff\xff\xff\xffgarbage', 'latin1'), () => undefined],
    [frameBytes(FrameKind.EVENT, 0, Buffer.from('x')), () => {
      throw new Error('payload did not parse');
    }],
  ] as const) {
    const stream = new PassThrough();
    const closed = new Promise<Error | undefined>((resolve) => new Channel(stream, handler, resolve));
    stream.write(bytes);
    const err = await closed;
    assert.ok(err instanceof ChannelError, String(err));
  }
});

test('frames written a byte at a time arrive whole and in order', async () => {
  const stream = new PassThrough();
  const got: string[] = [];
  new Channel(stream, (f) => got.push(`${f.kind}/${f.id}/${f.payload.toString()}`), () => undefined);
  const bytes = Buffer.concat([frameBytes(FrameKind.RESULT, 1, Buffer.from('one')), frameBytes(FrameKind.EVENT, 0, Buffer.alloc(0)), frameBytes(FrameKind.ERROR, 3, Buffer.from('three'))]);
  for (const b of bytes) stream.write(Buffer.of(b));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, ['4/1/one', '6/0/', '5/3/three']);
});
