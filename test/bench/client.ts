// The load generator, a child process of run.ts (forked, IPC channel). For one job it opens
// C connections to an agent socket, each a closed loop of SSH_AGENTC_SIGN_REQUESTs with a
// fresh random 64-byte payload, for a fixed time: at C = 1 from a worker thread with blocking
// socket calls (client-blocking.ts, the least latency), above that on one event loop
// (client-evented.ts, the least CPU). Every reply is kept and verified after the timed
// window, so checking costs the signer nothing; the client's own CPU time is reported so
// run.ts can show that the client is not what limits the rate.
import { runBlocking } from './client-blocking';
import { runEvented } from './client-evented';
import { SSH_AGENT_SIGN_RESPONSE, requestTemplate } from './client-wire';
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

export async function runJob(job: ClientJob): Promise<ClientResult> {
  const blob = Buffer.from(job.blob, 'base64');
  const template = requestTemplate(blob, job.flags);
  const spec = {
    socket: job.socket,
    concurrency: job.concurrency,
    seconds: job.seconds,
    warmup: job.warmup,
    total: job.total,
    fixed: job.fixedPayload ? Buffer.from(job.fixedPayload, 'hex') : undefined,
  };
  const got = job.concurrency === 1 ? await runBlocking(spec, template) : await runEvented(spec, template);
  const latencies = Float64Array.from(got.latenciesNs).sort();

  const v0 = Date.now();
  const verifier = verifierFor(blob, job.flags);
  let verified = 0;
  let bad = 0;
  let firstError = got.error;
  for (const [data, body] of got.pairs) {
    const reply = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const sig = reply[0] === SSH_AGENT_SIGN_RESPONSE && reply.length >= 5 ? reply.subarray(5, 5 + reply.readUInt32BE(1)) : undefined;
    if (sig && verifier.check(Buffer.from(data.buffer, data.byteOffset, data.byteLength), sig)) verified++;
    else {
      bad++;
      firstError ??= sig ? 'a signature did not verify' : `reply type ${reply[0]} instead of SSH_AGENT_SIGN_RESPONSE`;
    }
  }
  if (firstError && verified === 0) throw new Error(firstError);
  return {
    signatures: latencies.length,
    seconds: got.seconds,
    rate: latencies.length / got.seconds,
    p50us: percentileSorted(latencies, 50) / 1e3,
    p99us: percentileSorted(latencies, 99) / 1e3,
    verified,
    bad: bad + (got.error && !bad ? 1 : 0),
    firstError,
    clientCpuMs: got.cpuMs,
    verifyMs: Date.now() - v0,
  };
}

if (require.main === module && process.send) {
  // As a forked child: one job per IPC message, one result per job.
  process.on('message', (job: ClientJob) => {
    runJob(job).then(
      (result) => process.send!({ ok: true, result }),
      (err: Error) => process.send!({ ok: false, error: err.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
