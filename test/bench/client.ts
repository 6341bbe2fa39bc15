// The load generator, a child process of run.ts (forked, IPC channel). For one job it opens
// C connections to an agent socket, each a closed loop of SSH_AGENTC_SIGN_REQUESTs with a
// fresh random 64-byte payload, for a fixed time. Every reply is kept and verified after the
// timed window, so checking costs the signer nothing; the client's own CPU time is reported
// so run.ts can show that the client is not what limits the rate.
import { randomFillSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { percentileSorted } from './stats';
import { verifierFor } from './verify';

export interface ClientJob {
  socket: string;
  /** SSH public key blob, base64 */
  blob: string;
  flags: number;
  concurrency: number;
  seconds: number;
  /** requests per connection before the clock starts (connection set-up, first-use costs) */
  warmup: number;
  /** stop after this many signatures in total instead of after `seconds` */
  total?: number;
  /** hex: sign this payload every time (for the canned-reply calibration responder) */
  fixedPayload?: string;
}

export interface ClientResult {
  signatures: number;
  seconds: number;
  rate: number;
  p50us: number;
  p99us: number;
  verified: number;
  /** replies that were not a SIGN_RESPONSE, or whose signature did not verify */
  bad: number;
  firstError?: string;
  /** CPU time of this process during the timed window (user + system), ms */
  clientCpuMs: number;
  verifyMs: number;
}

const SSH_AGENTC_SIGN_REQUEST = 13;
const SSH_AGENT_SIGN_RESPONSE = 14;
const PAYLOAD = 64;

/** byte SSH_AGENTC_SIGN_REQUEST / string key_blob / string data / uint32 flags, framed (uint32 length). */
function requestTemplate(blob: Buffer, flags: number): { frame: Buffer; dataAt: number } {
  const len = 1 + 4 + blob.length + 4 + PAYLOAD + 4;
  const f = Buffer.alloc(4 + len);
  let o = f.writeUInt32BE(len, 0);
  o = f.writeUInt8(SSH_AGENTC_SIGN_REQUEST, o);
  o = f.writeUInt32BE(blob.length, o);
  o += blob.copy(f, o);
  o = f.writeUInt32BE(PAYLOAD, o);
  const dataAt = o;
  f.writeUInt32BE(flags >>> 0, o + PAYLOAD);
  return { frame: f, dataAt };
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.off('error', reject);
      s.setNoDelay?.(true);
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
    private readonly template: { frame: Buffer; dataAt: number },
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

export async function runJob(job: ClientJob): Promise<ClientResult> {
  const blob = Buffer.from(job.blob, 'base64');
  const template = requestTemplate(blob, job.flags);
  const fixed = job.fixedPayload ? Buffer.from(job.fixedPayload, 'hex') : undefined;
  const sockets = await Promise.all(Array.from({ length: job.concurrency }, () => openSocket(job.socket)));
  const loops = sockets.map((s) => new Loop(s, template, fixed));
  const kept: Array<[Buffer, Buffer]> = [];
  try {
    // Warm-up: untimed, but its signatures are verified like all others.
    await Promise.all(
      loops.map((l) => {
        let n = 0;
        return l.run((data, reply) => {
          kept.push([data, reply]);
          return ++n < job.warmup;
        });
      }),
    );
    const latencies: number[] = [];
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const deadline = t0 + BigInt(Math.round(job.seconds * 1e9));
    // In `total` mode the first request of every loop counts as issued.
    let issued = loops.length;
    await Promise.all(
      loops.map((l) =>
        l.run((data, reply, latency) => {
          kept.push([data, reply]);
          latencies.push(latency);
          if (job.total !== undefined) return issued++ < job.total;
          return process.hrtime.bigint() < deadline;
        }),
      ),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    latencies.sort((a, b) => a - b);

    const v0 = Date.now();
    const verifier = verifierFor(blob, job.flags);
    let verified = 0;
    let bad = 0;
    let firstError: string | undefined;
    for (const [data, reply] of kept) {
      const sig = reply[0] === SSH_AGENT_SIGN_RESPONSE && reply.length >= 5 ? reply.subarray(5, 5 + reply.readUInt32BE(1)) : undefined;
      if (sig && verifier.check(data, sig)) verified++;
      else {
        bad++;
        firstError ??= sig ? 'a signature did not verify' : `reply type ${reply[0]} instead of SSH_AGENT_SIGN_RESPONSE`;
      }
    }
    return {
      signatures: latencies.length,
      seconds,
      rate: latencies.length / seconds,
      p50us: percentileSorted(latencies, 50) / 1e3,
      p99us: percentileSorted(latencies, 99) / 1e3,
      verified,
      bad,
      firstError,
      clientCpuMs: (cpu.user + cpu.system) / 1e3,
      verifyMs: Date.now() - v0,
    };
  } finally {
    for (const s of sockets) s.destroy();
  }
}

// As a forked child: one job per IPC message, one result per job.
if (require.main === module && process.send) {
  process.on('message', (job: ClientJob) => {
    runJob(job).then(
      (result) => process.send!({ ok: true, result }),
      (err: Error) => process.send!({ ok: false, error: err.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
