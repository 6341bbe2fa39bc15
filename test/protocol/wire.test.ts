import assert from 'node:assert/strict';
import test from 'node:test';
import { SshReader, SshWriter, WireError } from '../../src/protocol/wire';

test('writer and reader round-trip every type', () => {
  const buf = new SshWriter()
    .uint8(0xfe)
    .bool(true)
    .bool(false)
    .uint32(0xdeadbeef)
    .uint64(0x0102030405060708n)
    .string('héllo')
    .string(Buffer.of(0, 1, 2))
    .mpint(Buffer.of(0x80, 1))
    .toBuffer();
  const r = new SshReader(buf);
  assert.equal(r.uint8(), 0xfe);
  assert.equal(r.bool(), true);
  assert.equal(r.bool(), false);
  assert.equal(r.uint32(), 0xdeadbeef);
  assert.equal(r.uint64(), 0x0102030405060708n);
  assert.equal(r.stringUtf8(), 'héllo');
  assert.deepEqual(r.string(), Buffer.of(0, 1, 2));
  assert.deepEqual(r.mpint(), Buffer.of(0x80, 1));
  assert.ok(r.atEnd);
  r.expectEnd();
});

test('mpint encoding follows RFC 4251 (sign byte, no needless zeros, zero is empty)', () => {
  const enc = (b: number[]) => new SshWriter().mpint(Buffer.from(b)).toBuffer().toString('hex');
  assert.equal(enc([]), '00000000');
  assert.equal(enc([0, 0]), '00000000');
  assert.equal(enc([0x7f]), '000000017f');
  assert.equal(enc([0x80]), '000000020080');
  assert.equal(enc([0, 0, 0x12, 0x34]), '000000021234');
  // RFC 4251 section 5 example: 9a378f9b2e332a7 -> 00 00 00 08 09 a3 78 f9 b2 e3 32 a7
  assert.equal(enc([0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7]), '0000000809a378f9b2e332a7');

  const dec = (hex: string) => new SshReader(Buffer.from(hex, 'hex')).mpint();
  assert.deepEqual(dec('000000020080'), Buffer.of(0x80));
  assert.deepEqual(dec('00000003000001'), Buffer.of(1)); // lenient on extra zeros, like OpenSSH
  assert.deepEqual(dec('00000000'), Buffer.alloc(0));
  assert.throws(() => dec('0000000180'), { name: 'WireError', message: 'negative mpint' });
});

test('truncation and junk give WireError', () => {
  assert.throws(() => new SshReader(Buffer.alloc(3)).uint32(), WireError);
  assert.throws(() => new SshReader(Buffer.alloc(7)).uint64(), WireError);
  assert.throws(() => new SshReader(Buffer.alloc(0)).uint8(), WireError);
  assert.throws(() => new SshReader(Buffer.from('0000000561626364', 'hex')).string(), /declared 5 bytes, 4 left/);
  assert.throws(() => new SshReader(Buffer.from('ffffffff', 'hex')).string(), WireError);
  assert.throws(() => new SshReader(Buffer.from('00000002c328', 'hex')).stringUtf8('name'), /name is not valid UTF-8/);
  assert.equal(new SshReader(Buffer.from('00000002c328', 'hex')).stringUtf8('c', true), '\ufffd(');
  assert.throws(() => new SshReader(Buffer.of(1)).expectEnd('x'), /1 unexpected trailing bytes after x/);
  const huge = new SshWriter().string(Buffer.alloc(2049, 1)).toBuffer();
  assert.throws(() => new SshReader(huge).mpint(), /too large/);
  assert.throws(() => new SshWriter().uint32(-1), WireError);
  assert.throws(() => new SshWriter().uint32(2 ** 32), WireError);
  assert.throws(() => new SshWriter().uint8(256), WireError);
});

test('string() is a view: zeroing it wipes the bytes in the message', () => {
  const msg = new SshWriter().string('1234').toBuffer();
  new SshReader(msg).string().fill(0);
  assert.deepEqual(msg, Buffer.of(0, 0, 0, 4, 0, 0, 0, 0));
});
