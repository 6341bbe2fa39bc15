// Agent messages travel as  uint32 length / byte[length] body  (RFC 9987 section 3).
// FrameDecoder turns a byte stream into whole bodies; it does no I/O itself.

/** OpenSSH's AGENT_MAX_LEN: a larger frame is a broken or hostile client. */
export const MAX_AGENT_MESSAGE = 256 * 1024;

export class FrameTooLargeError extends Error {
  constructor(readonly declaredLength: number) {
    super(
      declaredLength === 0
        ? 'agent message with length 0 (every message has at least a type byte)'
        : `agent message of ${declaredLength} bytes exceeds the ${MAX_AGENT_MESSAGE}-byte limit`,
    );
    this.name = 'FrameTooLargeError';
  }
}

export function frame(body: Buffer): Buffer {
  if (body.length === 0 || body.length > MAX_AGENT_MESSAGE) throw new FrameTooLargeError(body.length);
  // Unpooled, so a frame carrying a PIN shares no memory with unrelated buffers and the
  // caller can wipe it after the write.
  const out = Buffer.allocUnsafeSlow(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

export class FrameDecoder {
  // A message is assembled straight into a buffer of its declared size, so memory per
  // connection stays at one message however the bytes are split (even one per read).
  private readonly header = Buffer.alloc(4);
  private headerFilled = 0;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private broken: FrameTooLargeError | null = null;

  /** Bytes received but not yet part of a complete message. */
  get pending(): number {
    return this.body ? 4 + this.bodyFilled : this.headerFilled;
  }

  /**
   * Feeds bytes as they arrive (split or coalesced any way) and returns the complete
   * message bodies, without their length prefix. The decoder owns `chunk` from here on:
   * it is overwritten once copied, so no stray copy of a PIN stays behind. Each body is a
   * fresh, unpooled buffer that shares memory with nothing else. After a
   * FrameTooLargeError the stream cannot be resynchronised: every later push throws again.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.broken) throw this.broken;
    const bodies: Buffer[] = [];
    let at = 0;
    try {
      while (at < chunk.length) {
        if (this.body === null) {
          const n = chunk.copy(this.header, this.headerFilled, at, at + 4 - this.headerFilled);
          this.headerFilled += n;
          at += n;
          if (this.headerFilled < 4) break;
          const len = this.header.readUInt32BE(0);
          this.header.fill(0);
          this.headerFilled = 0;
          if (len === 0 || len > MAX_AGENT_MESSAGE) {
            this.broken = new FrameTooLargeError(len);
            throw this.broken;
          }
          this.body = Buffer.alloc(len);
          this.bodyFilled = 0;
          continue;
        }
        const n = chunk.copy(this.body, this.bodyFilled, at, at + this.body.length - this.bodyFilled);
        this.bodyFilled += n;
        at += n;
        if (this.bodyFilled === this.body.length) {
          bodies.push(this.body);
          this.body = null;
          this.bodyFilled = 0;
        }
      }
    } finally {
      chunk.fill(0);
      if (this.broken) this.clear();
    }
    return bodies;
  }

  /** Forgets a partial message, overwriting it first: it may hold part of a PIN. */
  clear(): void {
    this.header.fill(0);
    this.headerFilled = 0;
    this.body?.fill(0);
    this.body = null;
    this.bodyFilled = 0;
  }
}
