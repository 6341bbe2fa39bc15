// The module-host channel fuzzer: the agent's real side of the channel (HostProvider with a
// real PIN broker) fed random and mutated host frames through an in-memory stream, with the
// fuzzer playing the module host. The rules it checks, frame by frame:
//  - nothing the host sends escapes as an exception or an unhandled rejection (in the agent
//    that would end the process);
//  - a frame either is taken or ends that host, always with a "refused: module host" log line;
//  - another module's host, fed nothing but good frames, is never touched and keeps signing;
//  - the broker's PIN of a token the fuzzed module does not serve never reaches it.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { deserialize } from 'node:v8';
import { FrameKind } from '../../src/host/channel';
import { encodeLoadResult } from '../../src/host/host-frames';
import { HostProvider, type HostProcess } from '../../src/host/host-provider';
import { PinBroker } from '../../src/pin/broker';
import { BODY_MUTATORS, Rng } from './mutate';
import { FUZZ_BLOB, FUZZ_SIGNATURE, FUZZ_TOKEN, frameOf, loadResult, validFrames } from './host-corpus';

export interface HostFuzzOptions {
  frames: number;
  seed: number;
  progress?: (line: string) => void;
}

export interface HostFuzzResult {
  seed: number;
  frames: number;
  seconds: number;
  perSecond: number;
  hostsStarted: number;
  hostsKilled: number;
  killReasons: Record<string, number>;
  kinds: Record<string, number>;
  answersTaken: number;
  pinsHanded: number;
  sentinelSignatures: number;
  failures: string[];
}

const VICTIM_PIN = 'victim-pin-7731';

/** A module host played by the fuzzer: what the agent writes is parsed, what it reads is pushed. */
class FakeHost {
  readonly child = Object.assign(new EventEmitter(), {
    kill: () => {
      if (this.killed) return true;
      this.killed = true;
      setImmediate(() => this.child.emit('exit', null, 'SIGKILL'));
      return true;
    },
    unref: () => undefined,
  });
  readonly stream: Duplex;
  killed = false;
  signIds: number[] = [];
  statusIds: number[] = [];

  constructor(
    private readonly autoSign: boolean,
    private readonly pinsSeen: Buffer[],
    private readonly token = FUZZ_TOKEN,
  ) {
    this.stream = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _enc, cb) => {
        this.fromAgent(chunk);
        cb();
      },
    });
  }

  private fromAgent(buf: Buffer): void {
    for (let o = 0; o + 9 <= buf.length; ) {
      const len = buf.readUInt32BE(o);
      const kind = buf[o + 4];
      const id = buf.readUInt32BE(o + 5);
      const payload = buf.subarray(o + 9, o + 4 + len);
      o += 4 + len;
      if (kind === FrameKind.SIGN) {
        if (this.autoSign) this.send(frameOf(FrameKind.SIGNATURE, id, FUZZ_SIGNATURE));
        else this.signIds.push(id);
        continue;
      }
      const call = deserialize(payload) as { op: string; pin?: Buffer | null };
      if (call.op === 'load') this.send(frameOf(FrameKind.RESULT, id, encodeLoadResult(loadResult(call.pin != null, this.token))));
      else if (call.op === 'status') this.statusIds.push(id);
      else {
        if (call.op === 'pin-answer' && call.pin) this.pinsSeen.push(Buffer.from(call.pin));
        this.send(frameOf(FrameKind.RESULT, id, Buffer.alloc(0)));
        // A real host exits once it answered 'close'.
        if (call.op === 'close') this.child.kill();
      }
    }
  }

  send(bytes: Buffer): void {
    if (!this.killed && !this.stream.destroyed) this.stream.push(bytes);
  }

  process(): HostProcess {
    return { child: this.child as unknown as HostProcess['child'], stream: this.stream };
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/** One fuzz frame: mostly a valid frame with its payload mutated under a true header. */
function mutatedFrame(rng: Rng, corpus: Buffer[]): { bytes: Buffer; kind: string } {
  const seed = rng.pick(corpus);
  const r = rng.next();
  if (r < 0.1) return { bytes: seed, kind: 'valid' };
  const header = seed.subarray(0, 9);
  const payload = seed.subarray(9);
  if (r < 0.8) {
    const [name, m] = rng.pick(BODY_MUTATORS);
    const body = m(payload.length ? payload : Buffer.of(0), rng, corpus.map((c) => c.subarray(9)));
    return { bytes: frameOf(header[4], header.readUInt32BE(5), body), kind: name };
  }
  if (r < 0.86) return { bytes: frameOf(rng.int(256), header.readUInt32BE(5), payload), kind: 'kind' };
  if (r < 0.9) return { bytes: frameOf(header[4], rng.pick([0, 1, 2, 0x7fffffff, 0xffffffff, rng.int(1 << 20)]), payload), kind: 'id' };
  if (r < 0.94) {
    const out = Buffer.from(seed);
    out.writeUInt32BE(rng.pick([0, 1, 4, 5, 8, 0x400001, 0x7fffffff, 0xffffffff, rng.int(64)]), 0);
    return { bytes: out, kind: 'length' };
  }
  if (r < 0.97) return { bytes: rng.bytes(1 + rng.int(64)), kind: 'garbage' };
  return { bytes: Buffer.concat([rng.pick(corpus), rng.pick(corpus), rng.pick(corpus)]), kind: 'burst' };
}

/** One fuzzed module: its provider, the host the fuzzer plays now, and the log it writes. */
class Lane {
  current?: FakeHost;
  started = 0;
  refusals = 0;
  lastRefusal = '';
  signOpen = false;
  statusOpen = false;
  readonly provider: HostProvider;

  constructor(
    readonly modulePath: string,
    broker: PinBroker,
    readonly pinsSeen: Buffer[],
    readonly token: { label: string; serial: string },
  ) {
    this.provider = new HostProvider(modulePath, {
      pins: broker,
      log: (_level, message) => {
        if (!message.startsWith('refused: module host for ')) return;
        this.refusals++;
        this.lastRefusal = message;
      },
      signTimeoutMs: 3_600_000,
      callTimeoutMs: 3_600_000,
      spawn: () => {
        this.started++;
        this.current = new FakeHost(false, pinsSeen, token);
        return this.current.process();
      },
    });
  }

  /** A live host with a signature and a status call pending, so answers have ids to hit. */
  async ready(answered: () => void): Promise<FakeHost | undefined> {
    if (!this.current || this.current.killed) this.signOpen = this.statusOpen = false;
    if (!this.signOpen) {
      this.signOpen = true;
      this.provider.sign(FUZZ_BLOB, Buffer.from('data'), 0).then(
        () => ((this.signOpen = false), answered()),
        () => (this.signOpen = false),
      );
    }
    if (!this.statusOpen) {
      this.statusOpen = true;
      this.provider.status().then(
        () => ((this.statusOpen = false), answered()),
        () => (this.statusOpen = false),
      );
    }
    const usable = () => this.current && !this.current.killed && this.current.signIds.length > 0 && this.current.statusIds.length > 0;
    for (let n = 0; n < 50 && !usable(); n++) await tick();
    return usable() ? this.current : undefined;
  }
}

// Lanes run side by side: a frame's round trip is a few turns of the event loop, and many
// lanes share each turn.
const LANES = 32;

export async function runHostFuzz(opts: HostFuzzOptions): Promise<HostFuzzResult> {
  const say = opts.progress ?? (() => undefined);
  const failures: string[] = [];
  const fail = (what: string) => {
    if (failures.length < 20) failures.push(what);
  };
  const onUncaught = (err: unknown) => fail(`uncaught: ${(err as Error)?.stack ?? err}`);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);

  const broker = new PinBroker({ pinentry: false, askpass: { require: 'never' }, unlockWaitMs: 0 });
  const pinsSeen: Buffer[] = [];
  const lanes = Array.from({ length: LANES }, (_, i) => new Lane(`/fuzz/lib${i}/libfuzz.so`, broker, pinsSeen, { label: `fuzz${i}`, serial: String(1000 + i) }));
  const sentinelHost = new FakeHost(true, []);
  let sentinelSpawns = 0;
  const sentinel = new HostProvider('/fuzz/libsentinel.so', {
    pins: broker,
    spawn: () => {
      sentinelSpawns++;
      return sentinelHost.process();
    },
  });

  const result: HostFuzzResult = {
    seed: opts.seed,
    frames: 0,
    seconds: 0,
    perSecond: 0,
    hostsStarted: 0,
    hostsKilled: 0,
    killReasons: {},
    kinds: {},
    answersTaken: 0,
    pinsHanded: 0,
    sentinelSignatures: 0,
    failures,
  };
  const t0 = Date.now();
  let nextReport = 100_000;
  const answered = () => result.answersTaken++;

  const runLane = async (lane: Lane, count: number, rng: Rng) => {
    for (let i = 0; i < count && failures.length === 0; i++) {
      const host = await lane.ready(answered);
      if (!host) {
        fail(`${lane.modulePath}: no live host with pending requests`);
        return;
      }
      const ids = { sign: host.signIds[host.signIds.length - 1], status: host.statusIds[host.statusIds.length - 1] };
      const { bytes, kind } = mutatedFrame(rng, validFrames(ids, lane.token));
      result.kinds[kind] = (result.kinds[kind] ?? 0) + 1;
      const refusedBefore = lane.refusals;
      if (rng.chance(0.1) && bytes.length > 1) {
        const cut = 1 + rng.int(bytes.length - 1);
        host.send(bytes.subarray(0, cut));
        await tick();
        host.send(bytes.subarray(cut));
      } else {
        host.send(bytes);
      }
      await tick();
      await tick();
      result.frames++;
      if (host.killed) {
        result.hostsKilled++;
        if (lane.refusals === refusedBefore) fail(`${kind} frame: the host was killed without a refusal in the log: ${bytes.toString('hex').slice(0, 200)}`);
        else {
          const reason = /libfuzz\.so (\w+ \w+( \w+)?)/.exec(lane.lastRefusal)?.[1] ?? 'other';
          result.killReasons[reason] = (result.killReasons[reason] ?? 0) + 1;
        }
      }
      if (result.frames >= nextReport) {
        nextReport += 100_000;
        say(`${result.frames} frames, ${result.hostsKilled} hosts killed, ${Math.round(result.frames / ((Date.now() - t0) / 1000))}/s`);
      }
    }
  };

  try {
    // The sentinel's token: another module's, with a PIN the broker keeps.
    await sentinel.load(Buffer.from(VICTIM_PIN));
    broker.claim('/fuzz/libsentinel.so', { label: 'victim', serial: '0002' });
    broker.keep('/fuzz/libsentinel.so', { label: 'victim', serial: '0002' }, Buffer.from(VICTIM_PIN));
    // Every lane's module claims its own token, whose PIN the broker then keeps.
    for (const lane of lanes) await lane.provider.load(Buffer.from('fuzz-pin'));

    let done = false;
    const watchSentinel = (async () => {
      while (!done && failures.length === 0) {
        const sig = await sentinel.sign(FUZZ_BLOB, Buffer.from('sentinel'), 0).catch((e: Error) => e);
        if (!Buffer.isBuffer(sig) || !sig.equals(FUZZ_SIGNATURE)) fail(`the other module's host failed: ${String(sig)}`);
        else result.sentinelSignatures++;
        if (sentinelHost.killed || sentinelSpawns !== 1) fail("the other module's host was killed");
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const per = Math.ceil(opts.frames / LANES);
    await Promise.all(lanes.map((lane, i) => runLane(lane, Math.min(per, opts.frames - per * i), new Rng(opts.seed + i * 7919))));
    done = true;
    await watchSentinel;
    await tick();
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await Promise.race([Promise.all([...lanes.map((l) => l.provider.close()), sentinel.close()]), new Promise((r) => setTimeout(r, 5000))]);
    broker.close();
  }
  for (const pin of pinsSeen) {
    result.pinsHanded++;
    if (pin.toString() === VICTIM_PIN) fail("a fuzzed host was handed another module's PIN");
  }
  result.hostsStarted = lanes.reduce((n, l) => n + l.started, 0);
  result.seconds = Math.round((Date.now() - t0) / 100) / 10;
  result.perSecond = Math.round(result.frames / Math.max(0.001, (Date.now() - t0) / 1000));
  return result;
}
