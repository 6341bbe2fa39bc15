// A raw agent connection for fuzz and soak: writes any bytes, reads framed replies in order.
// Replies are matched to requests by order only (the agent answers in request order).
import * as net from 'node:net';

const MAX_REPLY = 256 * 1024;

export class RawConnection {
  readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: { resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  replies = 0;
  /** Reply bodies whose first byte is not a response message number. */
  badReplies = 0;
  closed = false;
  private readonly closedPromise: Promise<void>;
  private readonly ready: Promise<void>;

  constructor(sock: string, private readonly onReply?: (body: Buffer) => void) {
    this.socket = net.connect(sock);
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.ready.catch(() => undefined);
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', () => undefined);
    this.closedPromise = new Promise((r) =>
      this.socket.on('close', () => {
        this.closed = true;
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error('connection closed'));
        }
        r();
      }),
    );
  }

  connected(): Promise<void> {
    return this.ready;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32BE(0);
      if (n === 0 || n > MAX_REPLY) {
        this.badReplies++;
        this.socket.destroy();
        return;
      }
      if (this.buf.length < 4 + n) break;
      const body = this.buf.subarray(4, 4 + n);
      this.buf = this.buf.subarray(4 + n);
      this.replies++;
      if (!RESPONSE_TYPES.has(body[0])) this.badReplies++;
      this.onReply?.(body);
      const w = this.waiters.shift();
      if (w) {
        clearTimeout(w.timer);
        w.resolve(Buffer.from(body));
      }
    }
  }

  write(bytes: Buffer): boolean {
    if (this.closed) return false;
    return this.socket.write(bytes);
  }

  /** Sends one framed request and waits for its reply (all earlier replies must be awaited too). */
  request(body: Buffer, timeoutMs = 10_000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.findIndex((w) => w.timer === timer);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({ resolve, reject, timer });
      if (!this.write(frame(body))) {
        if (this.closed) reject(new Error('connection closed'));
      }
    });
  }

  /** Resolves when `count` replies arrived, the agent closed the connection, or the time is up. */
  async settle(count: number, timeoutMs: number): Promise<'all' | 'closed' | 'timeout'> {
    const end = Date.now() + timeoutMs;
    while (this.replies < count) {
      if (this.closed) return 'closed';
      if (Date.now() > end) return 'timeout';
      await Promise.race([this.closedPromise, new Promise((r) => setTimeout(r, 5))]);
    }
    return 'all';
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closedPromise;
  }

  end(): void {
    this.socket.end();
  }
}

// SSH_AGENT_FAILURE, SSH_AGENT_SUCCESS, SSH_AGENT_IDENTITIES_ANSWER, SSH_AGENT_SIGN_RESPONSE,
// SSH_AGENT_EXTENSION_FAILURE, SSH_AGENT_EXTENSION_RESPONSE.
const RESPONSE_TYPES = new Set([5, 6, 12, 14, 28, 29]);

export function frame(body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length);
  return Buffer.concat([h, body]);
}
