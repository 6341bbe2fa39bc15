// What both load generators share: the SIGN_REQUEST frame they send, and the shape of what
// they bring back from one timed window.

export const SSH_AGENTC_SIGN_REQUEST = 13;
export const SSH_AGENT_SIGN_RESPONSE = 14;
export const PAYLOAD = 64;

export interface RequestTemplate {
  frame: Buffer;
  /** offset of the 64 payload bytes, refilled for every request */
  dataAt: number;
}

/** byte SSH_AGENTC_SIGN_REQUEST / string key_blob / string data / uint32 flags, framed (uint32 length). */
export function requestTemplate(blob: Buffer, flags: number): RequestTemplate {
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

/** One job's raw outcome, before verification and statistics. */
export interface Collected {
  /** latency of every timed request, ns */
  latenciesNs: ArrayLike<number>;
  /** payload and reply body of every request, warm-up included */
  pairs: Array<[Uint8Array, Uint8Array]>;
  /** from the start of the timed window to the last reply */
  seconds: number;
  /** CPU of the client process (all threads) in the timed window, ms */
  cpuMs: number;
  error?: string;
}

/** Controls of one timed window, common to both generators. */
export interface WindowSpec {
  socket: string;
  concurrency: number;
  seconds: number;
  warmup: number;
  total?: number;
  fixed?: Buffer;
}
