// SSH wire data types (RFC 4251 section 5): byte, boolean, uint32, uint64, string, mpint.
// Every read is bounds-checked; anything malformed becomes a WireError, so callers that
// decode untrusted input only ever have to catch one error type.

/** Malformed, truncated or unsupported wire data. The message is safe to log (no secrets). */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

// OpenSSH refuses bignums above 16384 bits (SSHBUF_MAX_BIGNUM); so do we, which also
// bounds the BigInt work a hostile client can cause.
const MAX_MPINT_BYTES = 16384 / 8;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export class SshReader {
  private offset = 0;

  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  get atEnd(): boolean {
    return this.offset === this.buf.length;
  }

  /** The unread bytes (a view, not a copy). */
  rest(): Buffer {
    const out = this.buf.subarray(this.offset);
    this.offset = this.buf.length;
    return out;
  }

  expectEnd(what = 'message'): void {
    if (!this.atEnd) throw new WireError(`${this.remaining} unexpected trailing bytes after ${what}`);
  }

  private need(n: number, what: string): void {
    if (this.remaining < n) {
      throw new WireError(`truncated ${what}: need ${n} bytes, ${this.remaining} left`);
    }
  }

  uint8(): number {
    this.need(1, 'byte');
    return this.buf[this.offset++];
  }

  /** RFC 4251 boolean: any non-zero byte is true. */
  bool(): boolean {
    return this.uint8() !== 0;
  }

  uint32(): number {
    this.need(4, 'uint32');
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  uint64(): bigint {
    this.need(8, 'uint64');
    const v = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  /** Fixed number of raw bytes (a view into the message, not a copy). */
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /**
   * An SSH string as bytes. The result is a view into the message body, so zeroing a
   * PIN or passphrase read this way also wipes it from the received frame.
   */
  string(what = 'string'): Buffer {
    const len = this.uint32();
    if (len > this.remaining) {
      throw new WireError(`truncated ${what}: declared ${len} bytes, ${this.remaining} left`);
    }
    return this.bytes(len, what);
  }

  /**
   * An SSH string as text. Names (key types, extension names) are strict UTF-8; free
   * text such as key comments may be `lenient`, because old key files carry Latin-1.
   */
  stringUtf8(what = 'string', lenient = false): string {
    const raw = this.string(what);
    if (lenient) return raw.toString('utf8');
    try {
      return strictUtf8.decode(raw);
    } catch {
      throw new WireError(`${what} is not valid UTF-8`);
    }
  }

  /** A non-negative mpint as unsigned big-endian magnitude without leading zero bytes. */
  mpint(what = 'mpint'): Buffer {
    const raw = this.string(what);
    if (raw.length > 0 && (raw[0] & 0x80) !== 0) throw new WireError(`negative ${what}`);
    let i = 0;
    while (i < raw.length && raw[i] === 0) i++;
    if (raw.length - i > MAX_MPINT_BYTES) throw new WireError(`${what} too large`);
    return raw.subarray(i);
  }
}

export class SshWriter {
  private parts: Buffer[] = [];
  private length = 0;

  private push(b: Buffer): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }

  uint8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new WireError(`byte out of range: ${v}`);
    return this.push(Buffer.of(v));
  }

  bool(v: boolean): this {
    return this.uint8(v ? 1 : 0);
  }

  uint32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new WireError(`uint32 out of range: ${v}`);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return this.push(b);
  }

  uint64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    return this.push(b);
  }

  string(v: Buffer | Uint8Array | string): this {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    this.uint32(b.length);
    return this.push(b);
  }

  /** Unsigned big-endian magnitude; leading zeros are dropped and a 0x00 added when the top bit is set. */
  mpint(v: Buffer): this {
    let i = 0;
    while (i < v.length && v[i] === 0) i++;
    const mag = v.subarray(i);
    if (mag.length > 0 && (mag[0] & 0x80) !== 0) {
      this.uint32(mag.length + 1);
      this.push(Buffer.of(0));
      return this.push(mag);
    }
    return this.string(mag);
  }

  raw(v: Buffer): this {
    return this.push(v);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}
