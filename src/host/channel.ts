// The pipe between the agent and a module host. One framed byte stream, both directions:
//
//   uint32 length            (of everything after this field)
//   byte   kind              (FrameKind)
//   uint32 id                (request id; the reply carries the same id)
//   byte[] payload
//
// Signing is the hot path (thousands per second through the agent), so SIGN and SIGNATURE
// frames are plain bytes. Calls from the agent (load, status, PIN answers) are v8-serialized:
// the host trusts its agent. Everything the host sends back is explicit SSH-wire fields
// (host-frames.ts), because the agent trusts no module: a frame that does not parse ends
// that host. Node's own IPC channel costs about twice as much per message and does not
// batch under load, hence this.
import type { Duplex } from 'node:stream';

export enum FrameKind {
  /** agent → host: uint32 flags, uint32 blob length, blob, data (rest). */
  SIGN = 1,
  /** host → agent: the SSH signature blob. */
  SIGNATURE = 2,
  /** agent → host: v8 { op, args }. */
  CALL = 3,
  /** host → agent: the value answering a CALL (host-frames.ts, per call). */
  RESULT = 4,
  /** host → agent: HostErrorInfo answering a SIGN or CALL (host-frames.ts). */
  ERROR = 5,
  /** host → agent, id 0: HostEvent: log line, PIN request or outcome (host-frames.ts). */
  EVENT = 6,
}

export interface Frame {
  kind: FrameKind;
  id: number;
  payload: Buffer;
}

export const HEADER = 4 + 1 + 4;
/** Far above any real message (a load report with hundreds of keys); guards a confused peer. */
export const MAX_FRAME = 64 * 1024 * 1024;

/** The peer broke the framing, or a frame handler threw on what the peer sent. */
export class ChannelError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChannelError';
  }
}

export class Channel {
  private buffered: Buffer = Buffer.alloc(0);
  /** Reads not yet joined to `buffered`: the frame they belong to is still incomplete. */
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  private closed = false;

  /**
   * `onFrame` may throw: the channel is then closed and `onClose` gets the error, so a bad
   * frame never escapes into the event loop. `maxFrame` bounds what the peer can make this
   * side buffer.
   */
  constructor(
    private readonly stream: Duplex,
    onFrame: (f: Frame) => void,
    onClose: (err?: Error) => void,
    private readonly maxFrame = MAX_FRAME,
  ) {
    const end = (err?: Error) => {
      if (this.closed) return;
      this.closed = true;
      onClose(err);
    };
    stream.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      try {
        if (!this.collect(chunk)) return;
        for (const f of this.take()) {
          if (this.closed) return;
          onFrame(f);
        }
      } catch (err) {
        this.buffered = Buffer.alloc(0);
        this.pieces = [];
        this.destroy();
        end(err instanceof ChannelError ? err : new ChannelError(`bad frame: ${(err as Error).message}`, { cause: err }));
      }
    });
    stream.on('error', end);
    stream.on('close', () => end());
    stream.on('end', () => end());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Adds a read to what is buffered; true once a whole frame (or a header to check) is there.
   * A frame split across reads is joined once, when its last piece came (a peer that declares
   * a large frame and sends it a few bytes at a time costs one copy, not one per read), and
   * the pieces are zeroed once copied: no stale copy of a secret stays in the old chunks.
   */
  private collect(chunk: Buffer): boolean {
    if (this.buffered.length === 0 && this.pieces.length === 0) {
      this.buffered = chunk;
      return true;
    }
    this.pieces.push(chunk);
    this.pieceBytes += chunk.length;
    const have = this.buffered.length + this.pieceBytes;
    if (this.buffered.length >= 4) {
      const len = this.buffered.readUInt32BE(0);
      if (len < HEADER - 4 || len > this.maxFrame) throw new ChannelError(`frame length ${len} out of range`);
      if (have < 4 + len) return false;
    } else if (have < HEADER) {
      return false;
    }
    const joined = Buffer.concat([this.buffered, ...this.pieces], have);
    this.buffered.fill(0);
    for (const p of this.pieces) p.fill(0);
    this.buffered = joined;
    this.pieces = [];
    this.pieceBytes = 0;
    return true;
  }

  private take(): Frame[] {
    const out: Frame[] = [];
    let buf = this.buffered;
    while (buf.length >= HEADER) {
      const len = buf.readUInt32BE(0);
      if (len < HEADER - 4 || len > this.maxFrame) throw new ChannelError(`frame length ${len} out of range`);
      if (buf.length < 4 + len) break;
      out.push({ kind: buf[4] as FrameKind, id: buf.readUInt32BE(5), payload: buf.subarray(HEADER, 4 + len) });
      buf = buf.subarray(4 + len);
    }
    this.buffered = buf;
    return out;
  }

  /**
   * Sends one frame. Frames sent during one turn of the event loop leave together in one
   * write, flushed from setImmediate: under load the agent forwards requests from many
   * connections in one turn and the host finishes several signatures in one turn, and one
   * write (one wake-up of the other side) instead of one per frame is most of the pipe's
   * cost at high concurrency. With one request in flight it adds no wake-up: the flush runs
   * in the same turn, after the poll phase.
   * `secret` frames (they carry a PIN) bypass the batch and are zeroed once written.
   */
  send(kind: FrameKind, id: number, payload: Buffer, secret = false): void {
    if (this.closed) return;
    const frame = Buffer.allocUnsafe(HEADER + payload.length);
    frame.writeUInt32BE(HEADER - 4 + payload.length, 0);
    frame[4] = kind;
    frame.writeUInt32BE(id, 5);
    payload.copy(frame, HEADER);
    if (secret) {
      payload.fill(0);
      this.flush();
      this.stream.write(frame, () => frame.fill(0));
      return;
    }
    this.outgoing.push(frame);
    if (this.outgoing.length === 1) setImmediate(this.flushSoon);
  }

  private readonly outgoing: Buffer[] = [];
  private readonly flushSoon = () => this.flush();

  private flush(): void {
    if (this.outgoing.length === 0 || this.closed) {
      this.outgoing.length = 0;
      return;
    }
    this.stream.write(this.outgoing.length === 1 ? this.outgoing[0] : Buffer.concat(this.outgoing));
    this.outgoing.length = 0;
  }

  /** Ends the stream once everything written has been flushed. */
  end(): void {
    this.flush();
    this.stream.end();
  }

  close(): void {
    this.closed = true;
    this.destroy();
  }

  private destroy(): void {
    this.outgoing.length = 0;
    this.stream.destroy();
  }
}


/** SIGN payload: uint32 flags, uint32 blob length, blob, data. */
export function encodeSign(blob: Buffer, data: Buffer, flags: number): Buffer {
  const b = Buffer.allocUnsafe(8 + blob.length + data.length);
  b.writeUInt32BE(flags >>> 0, 0);
  b.writeUInt32BE(blob.length, 4);
  blob.copy(b, 8);
  data.copy(b, 8 + blob.length);
  return b;
}

export function decodeSign(p: Buffer): { blob: Buffer; data: Buffer; flags: number } {
  if (p.length < 8) throw new Error('truncated sign request');
  const flags = p.readUInt32BE(0);
  const n = p.readUInt32BE(4);
  if (8 + n > p.length) throw new Error('truncated sign request');
  return { flags, blob: p.subarray(8, 8 + n), data: p.subarray(8 + n) };
}
