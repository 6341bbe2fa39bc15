// The agent's side of a module host: a TokenProvider that owns one child process, which in
// turn owns one PKCS#11 module. A module that crashes or hangs costs only this provider:
// pending requests fail with a clear error, the child is replaced on the next use and the
// same tokens are loaded again (issue 8, crash containment).
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { serialize } from 'node:v8';
import type { TokenIdentity, TokenLoadReport, TokenProvider } from '../agent/provider';
import { Channel, FrameKind, decodeValue, encodeSign, type Frame } from './channel';
import { HostCrashedError, HostRequestError, HostTimeoutError, type HostErrorInfo } from './errors';
import type { HostCall, HostEvent, HostStatus, LoadResult, ProviderStatus } from './messages';
import { agentPins } from '../agent/pin-service';
import type { PinBroker } from '../pin/broker';
import type { PinEvent } from './pin-request';
import { handlePinEvent, isPinEvent } from './pin-request-agent';

export interface HostProviderOptions {
  /** A signature not answered within this time fails and the host is restarted. Default 30 s. */
  signTimeoutMs?: number;
  /** Same for load/status/logout; loading can wait on a PIN pad. Default 120 s. */
  callTimeoutMs?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Extra environment for the host (tests point SOFTHSM2_CONF here). Default: the agent's. */
  env?: NodeJS.ProcessEnv;
  /** Where PINs come from when a token asks; default the agent's broker (agent/pin-service.ts). */
  pins?: Promise<PinBroker>;
}

interface Pending {
  resolve: (v: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface Running {
  child: ChildProcess;
  channel: Channel;
  pending: Map<number, Pending>;
  /** Set once the child is gone; every later request needs a new host. */
  dead: boolean;
}

/** What was loaded, so a replacement host can load it again. The PIN stays a Buffer. */
interface LoadRecord {
  uri?: string;
  pin: Buffer | null;
}

export function createHostProvider(modulePath: string, options: HostProviderOptions = {}): HostProvider {
  return new HostProvider(modulePath, options);
}

export class HostProvider implements TokenProvider {
  private host?: Running;
  private starting?: Promise<Running>;
  private nextId = 1;
  private loads: LoadRecord[] = [];
  private restarts = 0;
  private lastCrash?: string;
  private closed = false;
  private readonly signTimeoutMs: number;
  private readonly callTimeoutMs: number;
  private readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;

  constructor(
    readonly modulePath: string,
    private readonly options: HostProviderOptions,
  ) {
    this.signTimeoutMs = options.signTimeoutMs ?? 30_000;
    this.callTimeoutMs = options.callTimeoutMs ?? 120_000;
    this.log = options.log ?? (() => undefined);
  }

  async load(pin: Buffer | null, uri?: string): Promise<{ identities: TokenIdentity[]; report: TokenLoadReport[] }> {
    const host = await this.ensureHost();
    // callOn zeroes what it sends; the caller's Buffer stays the caller's to zero.
    const result = await this.callOn<LoadResult>(host, { op: 'load', pin: pin && Buffer.from(pin), uri }, true);
    // Kept so that a replacement host (after a crash) can log in again without asking,
    // unless a token rejected it: a rejected PIN is never submitted again by itself.
    const rejected = result.report.some((r) => r.error?.ckr?.startsWith('CKR_PIN_'));
    const kept = pin && !rejected ? Buffer.from(pin) : null;
    const same = this.loads.findIndex((l) => l.uri === uri);
    if (same >= 0) {
      this.loads[same].pin?.fill(0);
      this.loads[same] = { uri, pin: kept };
    } else {
      this.loads.push({ uri, pin: kept });
    }
    return result;
  }

  async sign(blob: Buffer, data: Buffer, flags: number): Promise<Buffer> {
    const host = await this.ensureHost();
    return this.request(host, FrameKind.SIGN, encodeSign(blob, data, flags), this.signTimeoutMs, false);
  }

  async status(): Promise<ProviderStatus> {
    const base: ProviderStatus = { modulePath: this.modulePath, running: false, restarts: this.restarts };
    if (this.lastCrash) base.lastCrash = this.lastCrash;
    const host = this.host;
    if (!host || host.dead) return base;
    base.running = true;
    base.host = await this.callOn<HostStatus>(host, { op: 'status' });
    return base;
  }

  /** ssh-add -x: log every token out and forget the PINs the host and this side keep. */
  async logout(): Promise<void> {
    this.forgetPins();
    const host = this.host;
    if (host && !host.dead) await this.callOn(host, { op: 'logout' });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.forgetPins();
    this.loads = [];
    const host = this.host;
    this.host = undefined;
    if (!host || host.dead) return;
    const exited = new Promise<void>((r) => host.child.once('exit', () => r()));
    // The host answers 'close' after C_Finalize and then exits; give it a moment to do both.
    const grace = delay(2000);
    try {
      await Promise.race([this.callOn(host, { op: 'close' }).then(() => exited), exited, grace.promise]);
    } catch {
      // The host may exit before it answers; that is the point.
    }
    grace.cancel();
    if (!host.dead) {
      host.child.kill('SIGKILL');
      const last = delay(2000);
      await Promise.race([exited, last.promise]);
      last.cancel();
    }
  }

  private forgetPins(): void {
    for (const l of this.loads) {
      l.pin?.fill(0);
      l.pin = null;
    }
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
      for (const l of this.loads) {
        // Failures here are logged, not thrown: the caller's own request reports its outcome.
        try {
          const pin = l.pin ? Buffer.from(l.pin) : null;
          await this.callOn<LoadResult>(host, { op: 'load', pin, uri: l.uri }, true);
        } catch (err) {
          this.log('error', `reloading ${l.uri ?? this.modulePath} after restart failed: ${(err as Error).message}`);
        }
      }
    }
    return host;
  }

  private spawnHost(): Running {
    // Compiled: dist/host/main.js; under tsx in tests: src/host/main.ts. Same directory and extension as this file.
    const entry = path.join(__dirname, `main${path.extname(__filename)}`);
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--test') && !a.startsWith('--inspect'));
    // A host's live heap is tiny (a frame in, a signature out), but under a signing load V8
    // grows the young generation towards 16 MB semi-spaces and keeps the pages: RSS rises in
    // steps of several MB. 1 MB semi-spaces keep it flat at no measurable cost (test/bench).
    // Given first, so a flag the agent itself was started with still wins.
    const child = spawn(process.execPath, ['--max-semi-space-size=1', ...execArgv, entry, this.modulePath], {
      // fd 3 is the channel; the host never writes to stdout (the agent's stdout may be `eval`ed).
      stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
      env: this.options.env ?? process.env,
    });
    const pending = new Map<number, Pending>();
    const stream = child.stdio[3] as Duplex;
    const running: Running = {
      child,
      pending,
      dead: false,
      channel: new Channel(
        stream,
        (f) => this.onFrame(running, f),
        () => undefined,
      ),
    };
    // The agent must be able to exit with a host still running; pending requests hold timers.
    child.unref();
    (stream as Duplex & { unref?: () => void }).unref?.();
    child.on('error', (err) => this.onHostGone(running, `could not start module host: ${err.message}`));
    child.on('exit', (code, signal) =>
      this.onHostGone(running, signal ? `module host for ${this.modulePath} died (${signal})` : `module host for ${this.modulePath} exited (status ${code})`),
    );
    return running;
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
      clearTimeout(p.timer);
      p.reject(err);
    }
    host.pending.clear();
  }

  private onFrame(host: Running, f: Frame): void {
    if (f.kind === FrameKind.EVENT) {
      const ev = decodeValue<HostEvent>(f.payload);
      if (ev.type === 'log') this.log(ev.level, ev.message);
      else if (isPinEvent(ev)) void this.onPinEvent(host, ev);
      return;
    }
    const p = host.pending.get(f.id);
    if (!p) return; // answered after its timeout
    host.pending.delete(f.id);
    clearTimeout(p.timer);
    if (f.kind === FrameKind.ERROR) p.reject(new HostRequestError(decodeValue<HostErrorInfo>(f.payload)));
    else p.resolve(f.kind === FrameKind.SIGNATURE ? Buffer.from(f.payload) : f.payload);
  }

  /** A token of this host needs a PIN, or tells what became of one (pin-request.ts). */
  private onPinEvent(host: Running, ev: PinEvent): Promise<void> {
    return handlePinEvent(this.options.pins ?? agentPins(this.log), ev, {
      answer: (call) => this.callOn(host, call, true),
      pendingTimers: () => [...host.pending.values()].map((p) => p.timer),
      log: this.log,
    });
  }

  private async callOn<T>(host: Running, call: HostCall, secret = false): Promise<T> {
    const payload = serialize(call);
    if ('pin' in call) call.pin?.fill(0);
    const answer = await this.request(host, FrameKind.CALL, payload, this.callTimeoutMs, secret);
    return decodeValue<T>(answer);
  }

  private request(host: Running, kind: FrameKind, payload: Buffer, timeoutMs: number, secret: boolean): Promise<Buffer> {
    if (host.dead) return Promise.reject(new HostCrashedError(`module host for ${this.modulePath} is not running`));
    const id = this.nextId++;
    if (this.nextId > 0xffffffff) this.nextId = 1;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        host.pending.delete(id);
        reject(new HostTimeoutError(`module ${this.modulePath} did not answer within ${timeoutMs / 1000} s`));
        // A module stuck in C_Sign would hold every later request too: replace the host.
        // Marked gone now, so the next request starts a new host instead of waiting for the exit.
        this.onHostGone(host, `module host for ${this.modulePath} stopped answering for ${timeoutMs / 1000} s and was killed`);
        host.child.kill('SIGKILL');
      }, timeoutMs);
      host.pending.set(id, { resolve, reject, timer });
      host.channel.send(kind, id, payload, secret);
    });
  }
}

/** A timer that keeps the process alive: close() must finish even when nothing else is pending. */
function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}
