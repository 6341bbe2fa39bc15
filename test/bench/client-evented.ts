// The load generator for C > 1: every connection a closed loop on one event loop. For many
// connections this costs the least CPU per signature (one epoll wake-up serves several
// replies), which matters on a small machine where the client shares cores with the agent.
import { randomFillSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { PAYLOAD, type Collected, type RequestTemplate, type WindowSpec } from './client-wire';

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One connection's closed loop: a request goes out when the previous reply is in. */
class Loop {
  private buf: Buffer = Buffer.alloc(0);
  private sentAt = 0n;
  private data: Buffer = Buffer.alloc(0);
  private onReply?: (data: Buffer, reply: Buffer, latencyNs: number) => boolean;
  private done?: () => void;

  constructor(
    private readonly socket: Socket,
    private readonly template: RequestTemplate,
    private readonly fixed?: Buffer,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => undefined);
  }

  /** Runs until `onReply` returns false; resolves after that last reply. */
  run(onReply: (data: Buffer, reply: Buffer, latencyNs: number) => boolean): Promise<void> {
    this.onReply = onReply;
    return new Promise((resolve, reject) => {
      this.done = resolve;
      this.socket.once('close', () => reject(new Error('the agent closed the connection')));
      this.send();
    });
  }

  private send(): void {
    const f = Buffer.from(this.template.frame);
    if (this.fixed) this.fixed.copy(f, this.template.dataAt);
    else randomFillSync(f, this.template.dataAt, PAYLOAD);
    this.data = f.subarray(this.template.dataAt, this.template.dataAt + PAYLOAD);
    this.sentAt = process.hrtime.bigint();
    this.socket.write(f);
  }

  private receive(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + len) return;
      const body = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      const latency = Number(process.hrtime.bigint() - this.sentAt);
      if (this.onReply!(this.data, body, latency)) this.send();
      else this.done!();
    }
  }
}

export async function runEvented(spec: WindowSpec, template: RequestTemplate): Promise<Collected> {
  const sockets = await Promise.all(Array.from({ length: spec.concurrency }, () => openSocket(spec.socket)));
  const loops = sockets.map((s) => new Loop(s, template, spec.fixed));
  const pairs: Array<[Uint8Array, Uint8Array]> = [];
  try {
    // Warm-up: untimed, but its signatures are verified like all others.
    await Promise.all(
      loops.map((l) => {
        let n = 0;
        return l.run((data, reply) => {
          pairs.push([data, reply]);
          return ++n < spec.warmup;
        });
      }),
    );
    const latencies: number[] = [];
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const deadline = t0 + BigInt(Math.round(spec.seconds * 1e9));
    // In `total` mode the first request of every loop counts as issued.
    let issued = loops.length;
    await Promise.all(
      loops.map((l) =>
        l.run((data, reply, latency) => {
          pairs.push([data, reply]);
          latencies.push(latency);
          if (spec.total !== undefined) return issued++ < spec.total;
          return process.hrtime.bigint() < deadline;
        }),
      ),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    return { latenciesNs: latencies, pairs, seconds, cpuMs: (cpu.user + cpu.system) / 1e3 };
  } finally {
    for (const s of sockets) s.destroy();
  }
}
