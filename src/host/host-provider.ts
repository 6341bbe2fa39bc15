// The agent's side of a module host: a TokenProvider that owns one child process, which in
// turn owns one PKCS#11 module. A module that crashes or hangs costs only this provider:
// pending requests fail with a clear error, the child is replaced on the next use and the
// same tokens are loaded again. The child runs vendor code, so nothing it sends is trusted:
// every frame is decoded field by field (host-frames.ts), and a frame that does not parse,
// comes unasked, or asks for what the host may not have ends that host, never the agent.
// PINs are the broker's alone; this side only hands them over when the broker says so.
import type { Duplex } from 'node:stream';
import { serialize } from 'node:v8';
import type { PinBroker } from '../pin/broker';
import type { TokenIdentity, TokenLoadReport, TokenProvider } from '../token-provider/provider';
import { Channel, ChannelError, FrameKind, encodeSign, type Frame } from './channel';
import { Deadline } from './deadline';
import { HostCrashedError, HostRequestError, HostTimeoutError } from './host-errors';
import { checkSignatureBlob, decodeEmptyResult, decodeHostEvent, decodeLoadResult } from './host-frames';
import { decodeHostStatus } from './host-status';
import type { HostCall, HostStatus, LoadResult, ProviderStatus } from './messages';
import { HostPinRequests } from './pin-request-agent';
import { keepLoadPin } from './load-pins';
import { LoadReplay } from './load-replay';
import { spawnHostProcess, stopHostProcess, type HostProcess } from './host-process';
import { settleAnswer, type Pending, type Running } from './running-host';
import { ReaderWatch, type ReadReader } from './reader-watch';
import { pcscReaderState } from '../native';

export type { HostProcess } from './host-process';

type Log = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface HostProviderOptions {
  /** The agent's PIN broker: the only holder of PINs, and the judge of who may have one. */
  pins: PinBroker;
  /** A signature not answered within this time fails and the host is restarted. Default 30 s. */
  signTimeoutMs?: number;
  /** Same for load/status/logout; loading can wait on a PIN pad. Default 120 s. */
  callTimeoutMs?: number;
  log?: Log;
  /** Extra environment for the host (tests point SOFTHSM2_CONF here). Default: the agent's. */
  env?: NodeJS.ProcessEnv;
  /** Starts a host; default the real child process. The channel fuzzer plays the host here. */
  spawn?: (modulePath: string) => HostProcess;
  /** Asks pcscd about a reader (reader-watch.ts); default the addon's. */
  readReader?: ReadReader;
}

// What a host may make the agent buffer: far above a load report with hundreds of keys.
const MAX_HOST_FRAME = 4 * 1024 * 1024;

export function createHostProvider(modulePath: string, options: HostProviderOptions): HostProvider {
  return new HostProvider(modulePath, options);
}

export class HostProvider implements TokenProvider {
  private host?: Running;
  private starting?: Promise<Running>;
  private nextId = 1;
  /** The loads made, so a replacement host can load them again (it asks the broker for PINs). */
  private readonly loads = new LoadReplay();
  private readonly readers: ReaderWatch;
  private restarts = 0;
  private lastCrash?: string;
  private closed = false;
  private readonly signTimeoutMs: number;
  private readonly callTimeoutMs: number;
  private readonly log: Log;

  constructor(
    readonly modulePath: string,
    private readonly options: HostProviderOptions,
  ) {
    this.signTimeoutMs = options.signTimeoutMs ?? 30_000;
    this.callTimeoutMs = options.callTimeoutMs ?? 120_000;
    this.log = options.log ?? (() => undefined);
    this.readers = new ReaderWatch({ read: options.readReader ?? pcscReaderState });
  }

  async load(pin: Buffer | null, uri?: string): Promise<{ identities: TokenIdentity[]; report: TokenLoadReport[] }> {
    const host = await this.ensureHost();
    // callOn zeroes what it sends; the caller's Buffer stays the caller's to zero.
    const result = await this.callOn(host, { op: 'load', pin: pin && Buffer.from(pin), uri }, decodeLoadResult, true);
    const kept = keepLoadPin(this.options.pins, this.modulePath, result, pin);
    this.loads.loaded(uri, kept.identities.map((i) => i.blob));
    this.readers.loaded(kept.identities);
    host.pcsc = result.pcsc;
    return kept;
  }

  /** Signs; a key the host has not got (loaded while its token was out) is loaded again once (load-replay.ts). */
  async sign(blob: Buffer, data: Buffer, flags: number): Promise<Buffer> {
    const host = await this.ensureHost();
    try {
      return await this.signOn(host, blob, data, flags);
    } catch (err) {
      if (!(err instanceof HostRequestError && err.errorName === 'UnknownKeyError')) throw err;
      if (!(await this.loads.reloadFor(blob, (uri) => this.loadAgain(host, uri, 'for a key the module host had not got', this.signTimeoutMs)))) throw err;
      return this.signOn(host, blob, data, flags);
    }
  }

  private async signOn(host: Running, blob: Buffer, data: Buffer, flags: number): Promise<Buffer> {
    host.pins.signStarted();
    // A card pulled mid-signature can leave the module stuck; pcscd tells (reader-watch.ts).
    const unwatch = host.pcsc ? this.readers.follow(blob, (why) => this.replace(host, `module host for ${this.modulePath} was killed: ${why}`)) : undefined;
    try {
      return (await this.request(host, 'sign', FrameKind.SIGN, encodeSign(blob, data, flags), checkSignatureBlob, this.signTimeoutMs, false)) as Buffer;
    } finally {
      unwatch?.();
    }
  }

  /**
   * A load run again without a PIN (the first signature asks the broker, which decides). It
   * claims nothing: only tokens this module already serves alone since `tt-agent add` count,
   * so a host cannot take another module's token, and its PIN, by naming it later. An answer
   * that arrives after the module was removed or its host replaced is dropped. A reload for a
   * missing key is bounded by the sign timeout (it holds that signature's client). Failures are
   * logged, not thrown: the caller's own request reports its outcome. Resolves the keys found.
   */
  private async loadAgain(host: Running, uri: string | undefined, why: string, timeoutMs = this.callTimeoutMs): Promise<Buffer[]> {
    try {
      const result = await this.callOn<LoadResult>(host, { op: 'load', pin: null, uri }, decodeLoadResult, false, timeoutMs);
      if (this.closed || host !== this.host) return [];
      const { identities } = keepLoadPin(this.options.pins, this.modulePath, result, null, 'replay');
      // Only keys the agent holds: a reload's other keys are dropped, and must not pile up here.
      this.readers.loaded(identities.filter((i) => this.loads.holds(i.blob)));
      host.pcsc = result.pcsc;
      // Quiet when nothing came back: a miss while the token is out would log four times a second.
      if (identities.length > 0) this.log('info', `loaded ${uri ?? this.modulePath} again ${why}: ${identities.length} key(s)`);
      return identities.map((i) => i.blob);
    } catch (err) {
      // No token to load (the card is out, or only an empty or uninitialized slot is left) is
      // an empty answer, not a failure: said every 250 ms while a card is out, it was noise,
      // and it named the wrong slot.
      if (!(err instanceof HostRequestError && err.errorName === 'TokenSelectionError')) {
        this.log('error', `loading ${uri ?? this.modulePath} again ${why} failed: ${(err as Error).message}`);
      }
      return [];
    }
  }

  async status(): Promise<ProviderStatus> {
    const base: ProviderStatus = { modulePath: this.modulePath, running: false, restarts: this.restarts };
    if (this.lastCrash) base.lastCrash = this.lastCrash;
    const host = this.host;
    if (!host || host.dead) return base;
    base.running = true;
    base.host = await this.callOn<HostStatus>(host, { op: 'status' }, decodeHostStatus);
    return base;
  }

  /** ssh-add -x: log every token out (the broker drops or seals the PINs). */
  async logout(): Promise<void> {
    const host = this.host;
    if (host && !host.dead) await this.callOn(host, { op: 'logout' }, decodeEmptyResult);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.loads.clear();
    this.readers.clear();
    this.options.pins.release(this.modulePath);
    const host = this.host;
    this.host = undefined;
    if (!host || host.dead) return;
    await stopHostProcess(host.child, () => this.callOn(host, { op: 'close' }, decodeEmptyResult), () => host.dead);
  }

  /** The running host, or a new one that has re-loaded what the previous one had. */
  private ensureHost(): Promise<Running> {
    if (this.closed) return Promise.reject(new Error(`module ${this.modulePath} was removed`));
    if (this.host && !this.host.dead) return Promise.resolve(this.host);
    if (!this.starting) {
      this.starting = this.start().finally(() => {
        this.starting = undefined;
      });
    }
    return this.starting;
  }

  private async start(): Promise<Running> {
    const restart = this.host !== undefined;
    const host = this.spawnHost();
    this.host = host;
    if (restart) {
      this.restarts++;
      this.log('info', `restarting module host for ${this.modulePath}`);
      for (const uri of this.loads.uris) await this.loadAgain(host, uri, 'after the restart');
    }
    return host;
  }

  private spawnHost(): Running {
    const { child, stream } = this.options.spawn?.(this.modulePath) ?? spawnHostProcess(this.modulePath, this.options.env);
    const running: Running = {
      child,
      pending: new Map(),
      dead: false,
      channel: new Channel(
        stream,
        (f) => this.onFrame(running, f),
        (err) => err instanceof ChannelError && this.kill(running, `sent a malformed frame (${err.message})`),
        MAX_HOST_FRAME,
      ),
      pins: new HostPinRequests({
        owner: this.modulePath,
        broker: this.options.pins,
        pendingSigns: () => [...running.pending.values()].filter((p) => p.kind === 'sign').length,
        pauseSigns: (paused) => {
          for (const p of running.pending.values()) if (p.kind === 'sign') paused ? p.deadline.pause() : p.deadline.resume();
        },
        answer: (call) => this.callOn(running, call, decodeEmptyResult, true),
        kill: (why) => this.kill(running, why),
        log: this.log,
      }),
    };
    // The agent must be able to exit with a host still running; pending requests hold timers.
    child.unref();
    (stream as Duplex & { unref?: () => void }).unref?.();
    child.on('error', (err: Error) => this.onHostGone(running, `could not start module host: ${err.message}`));
    child.on('exit', (code: number | null, signal: NodeJS.Signals | null) =>
      this.onHostGone(running, signal ? `module host for ${this.modulePath} died (${signal})` : `module host for ${this.modulePath} exited (status ${code})`),
    );
    return running;
  }

  /**
   * A host stuck in the module: its pending requests fail now, and it is marked gone at once, so
   * the next request starts a new host instead of waiting for this one's exit.
   */
  private replace(host: Running, why: string): void {
    if (host.dead) return;
    this.onHostGone(host, why);
    host.child.kill('SIGKILL');
  }

  /** The host broke the channel's rules: logged, and it is replaced on the next use. */
  private kill(host: Running, why: string): void {
    if (host.dead) return;
    this.log('error', `refused: module host for ${this.modulePath} ${why}; it is killed`);
    this.onHostGone(host, `module host for ${this.modulePath} was killed: it ${why}`);
    host.child.kill('SIGKILL');
  }

  private onHostGone(host: Running, why: string): void {
    if (host.dead) return;
    host.dead = true;
    host.channel.close();
    if (!this.closed) {
      this.lastCrash = `${new Date().toISOString()} ${why}`;
      this.log('error', `${why}; its keys fail until the next request restarts it`);
    }
    const err = new HostCrashedError(why);
    for (const p of host.pending.values()) {
      p.deadline.cancel();
      p.reject(err);
    }
    host.pending.clear();
  }

  /** Every frame the host sends; whatever does not fit the rules kills the host. */
  private onFrame(host: Running, f: Frame): void {
    if (host.dead) return;
    if (f.kind === FrameKind.EVENT) {
      if (f.id !== 0) throw new Error(`event with request id ${f.id}`);
      const ev = decodeHostEvent(f.payload);
      if (ev.type === 'log') this.log(ev.level, ev.message);
      else void host.pins.handle(ev);
      return;
    }
    settleAnswer(host, f, this.nextId);
  }

  private async callOn<T>(host: Running, call: HostCall, decode: (p: Buffer) => T, secret = false, timeoutMs = this.callTimeoutMs): Promise<T> {
    const payload = serialize(call);
    if ('pin' in call) call.pin?.fill(0);
    return (await this.request(host, 'call', FrameKind.CALL, payload, decode, timeoutMs, secret)) as T;
  }

  private request(host: Running, kind: Pending['kind'], frameKind: FrameKind, payload: Buffer, decode: (p: Buffer) => unknown, timeoutMs: number, secret: boolean): Promise<unknown> {
    if (host.dead) {
      if (secret) payload.fill(0);
      return Promise.reject(new HostCrashedError(`module host for ${this.modulePath} is not running`));
    }
    const id = this.nextId++;
    if (this.nextId > 0xffffffff) this.nextId = 1;
    return new Promise((resolve, reject) => {
      const deadline = new Deadline(timeoutMs, () => {
        host.pending.delete(id);
        reject(new HostTimeoutError(`module ${this.modulePath} did not answer within ${timeoutMs / 1000} s`));
        // A module stuck in C_Sign would hold every later request too: replace the host.
        this.replace(host, `module host for ${this.modulePath} stopped answering for ${timeoutMs / 1000} s and was killed`);
      });
      host.pending.set(id, { kind, decode, resolve, reject, deadline });
      host.channel.send(frameKind, id, payload, secret);
    });
  }
}
