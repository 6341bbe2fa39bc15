// The load generator for C = 1: a worker thread doing blocking write(2)/read(2) on the agent
// socket, so nothing (no event loop, no epoll) sits between a reply and the next request and
// the client adds the least latency it can. For many connections one event loop is cheaper
// (client-evented.ts): sixteen blocking threads cost more CPU, taken from the agent's cores.
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { PAYLOAD, type Collected, type RequestTemplate, type WindowSpec } from './client-wire';

interface LoopData {
  socket: string;
  frame: Uint8Array;
  dataAt: number;
  fixed?: Uint8Array;
  warmup: number;
  /** [0] go flag (0 wait, 1 go), [1] signatures issued so far (for `total`), [2] workers ready */
  control: Int32Array;
  /** timed-window deadline, hrtime ns */
  deadline: BigInt64Array;
  total?: number;
}

interface LoopResult {
  latenciesNs: Float64Array;
  pairs: Array<[Uint8Array, Uint8Array]>;
  endNs: bigint;
  error?: string;
}

// Worker side: connect with net (there is no synchronous connect), then stop libuv reading and
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
  // workerData and messages arrive structured-cloned: Buffers are plain Uint8Arrays here.
  const frame = Buffer.from(d.frame);
  const fixed = d.fixed ? Buffer.from(d.fixed) : undefined;
  const data = frame.subarray(d.dataAt, d.dataAt + PAYLOAD);
  let buf = Buffer.alloc(4096);
  const pairs: Array<[Uint8Array, Uint8Array]> = [];
  const latencies: number[] = [];
  const once = (): void => {
    if (fixed) fixed.copy(frame, d.dataAt);
    else randomFillSync(frame, d.dataAt, PAYLOAD);
    fs.writeSync(fd, frame);
    let have = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, have, buf.length - have, null);
      if (n === 0) throw new Error('the agent closed the connection');
      have += n;
      if (have < 4) continue;
      const need = 4 + buf.readUInt32BE(0);
      if (need > buf.length) {
        const bigger = Buffer.alloc(need);
        buf.copy(bigger, 0, 0, have);
        buf = bigger;
      }
      if (have >= need) {
        pairs.push([Buffer.from(data), Buffer.from(buf.subarray(4, need))]);
        return;
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

/** Worker threads kept across jobs (starting one costs ~100 ms): worker i serves connection i. */
const pool: Worker[] = [];

export async function runBlocking(spec: WindowSpec, template: RequestTemplate): Promise<Collected> {
  const control = new Int32Array(new SharedArrayBuffer(12));
  const deadline = new BigInt64Array(new SharedArrayBuffer(8));
  const workers = Array.from({ length: spec.concurrency }, (_, i) => {
    const data: LoopData = { socket: spec.socket, frame: template.frame, dataAt: template.dataAt, fixed: spec.fixed, warmup: spec.warmup, control, deadline, total: spec.total };
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
    return result;
  });
  try {
    // Everyone connected and warmed up: start the clock and release them together.
    while (Atomics.load(control, 2) < spec.concurrency) await new Promise((r) => setTimeout(r, 2));
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    deadline[0] = t0 + BigInt(Math.round(spec.seconds * 1e9));
    Atomics.store(control, 0, 1);
    Atomics.notify(control, 0);
    const results = await Promise.all(workers);
    const cpu = process.cpuUsage(cpu0);
    const end = results.reduce((m, r) => (r.endNs > m ? r.endNs : m), t0);
    const latencies: number[] = [];
    for (const r of results) for (const l of r.latenciesNs) latencies.push(l);
    return {
      latenciesNs: latencies,
      pairs: results.flatMap((r) => r.pairs),
      seconds: Number(end - t0) / 1e9,
      cpuMs: (cpu.user + cpu.system) / 1e3,
      error: results.find((r) => r.error)?.error,
    };
  } finally {
    // Settle every worker's job before the next one reuses them.
    await Promise.allSettled(workers);
  }
}

if (!isMainThread) {
  parentPort!.on('message', (d: LoopData) => void workerLoop(d).then((r) => parentPort!.postMessage(r)));
}
