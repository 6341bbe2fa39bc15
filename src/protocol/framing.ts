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
  private chunks: Buffer[] = [];
  private buffered = 0;
  private broken: FrameTooLargeError | null = null;

  /** Bytes received but not yet part of a complete message. */
  get pending(): number {
    return this.buffered;
  }

  /**
   * Feeds bytes as they arrive (split or coalesced any way) and returns the complete
   * message bodies, without their length prefix. The decoder owns `chunk` from here on:
   * its bytes are overwritten once copied out, so no stray copy of a PIN stays behind. After a FrameTooLargeError the stream
   * cannot be resynchronised: every later push throws the same error.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.broken) throw this.broken;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const bodies: Buffer[] = [];
    while (this.buffered >= 4) {
      const len = this.peekLength();
      if (len === 0 || len > MAX_AGENT_MESSAGE) {
        this.broken = new FrameTooLargeError(len);
        this.clear();
        throw this.broken;
      }
      if (this.buffered < 4 + len) break;
      this.take(4);
      bodies.push(this.take(len));
    }
    return bodies;
  }

  /** Forgets buffered bytes, overwriting them first: they may hold part of a PIN. */
  clear(): void {
    for (const c of this.chunks) c.fill(0);
    this.chunks = [];
    this.buffered = 0;
  }

  private peekLength(): number {
    const first = this.chunks[0];
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.alloc(4);
    let got = 0;
    for (const c of this.chunks) {
      got += c.copy(head, got, 0, Math.min(c.length, 4 - got));
      if (got === 4) break;
    }
    return head.readUInt32BE(0);
  }

  /**
   * Removes n bytes from the front. The result is a fresh unpooled buffer, so a body
   * never shares memory with unrelated data and zeroing it wipes the last copy.
   */
  private take(n: number): Buffer {
    const out = Buffer.alloc(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const used = c.copy(out, filled, 0, Math.min(c.length, n - filled));
      c.fill(0, 0, used);
      filled += used;
      if (used === c.length) {
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(used);
      }
    }
    this.buffered -= n;
    return out;
  }
}
