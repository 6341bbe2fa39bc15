// The load generator, a child process of run.ts (forked, IPC channel). For one job it opens
// C connections to an agent socket, each served by its own worker thread running a closed
// loop of SSH_AGENTC_SIGN_REQUESTs (fresh random 64-byte payload each) with blocking
// write(2)/read(2) on the socket: no event loop between a reply and the next request, so the
// client spends a few µs of CPU per signature. Every reply is kept and verified after the
// timed window, so checking costs the signer nothing. The client's own CPU time is reported
// so run.ts can show that the client is not what limits the rate.
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
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
  /** CPU time of this process during the timed window (user + system, all threads), ms */
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

interface LoopData {
  socket: string;
  frame: Buffer;
  dataAt: number;
  fixed?: Uint8Array;
  warmup: number;
  /** [0] start flag (0 wait, 1 go), [1] signatures issued so far (for `total`) */
  control: Int32Array;
  /** timed-window deadline, hrtime ns */
  deadline: BigInt64Array;
  total?: number;
}

interface LoopResult {
  latenciesNs: Float64Array;
  /** data and reply body of every request, warm-up included, in order */
  pairs: Array<[Uint8Array, Uint8Array]>;
  endNs: bigint;
  error?: string;
}

// Worker side: connect with net (no synchronous connect exists), then stop libuv reading and
// switch the descriptor to blocking mode; from then on only write(2) and read(2).
async function workerLoop(d: LoopData): Promise<LoopResult> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(d.socket);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  socket.pause();
  const handle = (socket as unknown as { _handle: { fd: number; setBlocking(b: boolean): number } })._handle;
  handle.setBlocking(true);
  const fd = handle.fd;
  // workerData arrives structured-cloned: Buffers are plain Uint8Arrays here.
  const frame = Buffer.from(d.frame);
  const fixed = d.fixed ? Buffer.from(d.fixed) : undefined;
  const data = frame.subarray(d.dataAt, d.dataAt + PAYLOAD);
  let buf = Buffer.alloc(4096);
  const pairs: Array<[Uint8Array, Uint8Array]> = [];
  const latencies: number[] = [];
  const once = (): Buffer => {
    if (fixed) fixed.copy(frame, d.dataAt);
    else randomFillSync(frame, d.dataAt, PAYLOAD);
    fs.writeSync(fd, frame);
    let have = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, have, buf.length - have, null);
      if (n === 0) throw new Error('the agent closed the connection');
      have += n;
      if (have >= 4) {
        const need = 4 + buf.readUInt32BE(0);
        if (need > buf.length) {
          const bigger = Buffer.alloc(need);
          buf.copy(bigger, 0, 0, have);
          buf = bigger;
        }
        if (have >= need) {
          pairs.push([Buffer.from(data), Buffer.from(buf.subarray(4, need))]);
          return buf;
        }
      }
    }
  };
  let ready = false;
  try {
    for (let i = 0; i < d.warmup; i++) once();
    ready = true;
    Atomics.add(d.control, 2, 1);
    Atomics.wait(d.control, 0, 0);
    const deadline = d.deadline[0];
    for (;;) {
      if (d.total !== undefined && Atomics.add(d.control, 1, 1) >= d.total) break;
      const t = process.hrtime.bigint();
      once();
      const now = process.hrtime.bigint();
      latencies.push(Number(now - t));
      if (d.total === undefined && now >= deadline) break;
    }
    return { latenciesNs: Float64Array.from(latencies), pairs, endNs: process.hrtime.bigint() };
  } catch (err) {
    if (!ready) Atomics.add(d.control, 2, 1); // so the others are not kept waiting for this one
    return { latenciesNs: Float64Array.from(latencies), pairs, endNs: process.hrtime.bigint(), error: (err as Error).message };
  } finally {
    socket.destroy();
  }
}

// Workers start from plain JavaScript: loader hooks given by --import do not reach a worker
// whose entry is a .ts file, so this file is loaded through tsx's require hook (or as the
// compiled .js when it was compiled).
const WORKER_BOOT = __filename.endsWith('.ts')
  ? `require('tsx/cjs/api').register(); require(${JSON.stringify(__filename)});`
  : `require(${JSON.stringify(__filename)});`;

export async function runJob(job: ClientJob): Promise<ClientResult> {
  const blob = Buffer.from(job.blob, 'base64');
  const { frame, dataAt } = requestTemplate(blob, job.flags);
  // [0] go flag, [1] issued count, [2] workers ready
  const control = new Int32Array(new SharedArrayBuffer(12));
  const deadline = new BigInt64Array(new SharedArrayBuffer(8));
  const fixed = job.fixedPayload ? Buffer.from(job.fixedPayload, 'hex') : undefined;
  const workers = Array.from({ length: job.concurrency }, (_, i) => {
    const data: LoopData = { socket: job.socket, frame, dataAt, fixed, warmup: job.warmup, control, deadline, total: job.total };
    const w = (pool[i] ??= new Worker(WORKER_BOOT, { eval: true }));
    w.ref(); // idle pool workers must not keep a process alive; busy ones must
    const result = new Promise<LoopResult>((resolve, reject) => {
      const onExit = (code: number) => {
        pool.splice(pool.indexOf(w), 1);
        reject(new Error(`client worker exited (${code})`));
      };
      w.once('message', (r: LoopResult) => {
        w.off('exit', onExit);
        w.unref();
        resolve(r);
      });
      w.once('exit', onExit);
    });
    w.postMessage(data);
    return { w, result };
  });
  try {
    // Everyone connected and warmed up: start the clock and release them together.
    while (Atomics.load(control, 2) < job.concurrency) await new Promise((r) => setTimeout(r, 2));
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    deadline[0] = t0 + BigInt(Math.round(job.seconds * 1e9));
    Atomics.store(control, 0, 1);
    Atomics.notify(control, 0);
    const results = await Promise.all(workers.map((w) => w.result));
    const cpu = process.cpuUsage(cpu0);
    const end = results.reduce((m, r) => (r.endNs > m ? r.endNs : m), t0);
    const seconds = Number(end - t0) / 1e9;
    const all = new Float64Array(results.reduce((n, r) => n + r.latenciesNs.length, 0));
    let o = 0;
    for (const r of results) {
      all.set(r.latenciesNs, o);
      o += r.latenciesNs.length;
    }
    all.sort();

    const v0 = Date.now();
    const verifier = verifierFor(blob, job.flags);
    let verified = 0;
    let bad = 0;
    let firstError = results.find((r) => r.error)?.error;
    for (const r of results) {
      for (const [data, body] of r.pairs) {
        const reply = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
        const sig = reply[0] === SSH_AGENT_SIGN_RESPONSE && reply.length >= 5 ? reply.subarray(5, 5 + reply.readUInt32BE(1)) : undefined;
        if (sig && verifier.check(Buffer.from(data.buffer, data.byteOffset, data.byteLength), sig)) verified++;
        else {
          bad++;
          firstError ??= sig ? 'a signature did not verify' : `reply type ${reply[0]} instead of SSH_AGENT_SIGN_RESPONSE`;
        }
      }
    }
    if (firstError && verified === 0) throw new Error(firstError);
    return {
      signatures: all.length,
      seconds,
      rate: all.length / seconds,
      p50us: percentileSorted(all, 50) / 1e3,
      p99us: percentileSorted(all, 99) / 1e3,
      verified,
      bad,
      firstError,
      clientCpuMs: (cpu.user + cpu.system) / 1e3,
      verifyMs: Date.now() - v0,
    };
  } finally {
    // Settle every worker's job before the next one reuses them.
    await Promise.allSettled(workers.map((w) => w.result));
  }
}

/** Worker threads kept across jobs (starting one costs ~100 ms): worker i serves connection i. */
const pool: Worker[] = [];

if (!isMainThread) {
  parentPort!.on('message', (d: LoopData) => void workerLoop(d).then((r) => parentPort!.postMessage(r)));
} else if (require.main === module && process.send) {
  // As a forked child: one job per IPC message, one result per job.
  process.on('message', (job: ClientJob) => {
    runJob(job).then(
      (result) => process.send!({ ok: true, result }),
      (err: Error) => process.send!({ ok: false, error: err.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
