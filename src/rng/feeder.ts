// The feeding loop: token → health tests → sink (the kernel pool, or a file).
//
// When to feed: where the kernel still counts entropy (before Linux 5.18), only when the
// count is below write_wakeup_threshold, as rngd does; where the count is pinned at 256, one
// chunk per interval — enough to keep mixing fresh token output into a pool that no longer
// drains, without keeping a USB token busy. Every wait is a timer, never a spin.
import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthFailure, HealthTestName, HealthTests } from './health';
import { readPoolStatus, type EntropySink, type PoolStatus } from './kernel';
import type { Hinted } from '../hint';

export interface RandomSource {
  /** exactly `n` bytes; may wait (e.g. for a token to come back) until `signal` aborts */
  read(n: number, signal?: AbortSignal): Promise<Buffer>;
  close(): Promise<void>;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, message: string) => void;

export interface FeederStats {
  bytesRead: number;
  bytesFed: number;
  bitsCredited: number;
  chunksFed: number;
  healthFailures: number;
  failuresByTest: Record<HealthTestName, number>;
  startedAt: number;
}

export interface FeederOptions {
  source: RandomSource;
  sink: EntropySink;
  health: HealthTests;
  chunkSize: number;
  /** bits credited per byte */
  entropyRatio: number;
  /** pause between chunks where the count is pinned */
  intervalMs: number;
  log: Log;
  /** how often statistics are logged by run(); default 15 minutes */
  statsIntervalMs?: number;
  /** pause between top-up chunks while the count is below the threshold; default 250 ms */
  topUpPauseMs?: number;
  /** how often the count is looked at while it is above the threshold; default 5 s */
  checkPeriodMs?: number;
  poolStatus?: () => PoolStatus;
}

/** Chunks failing in a row before once() gives up: a token that keeps failing is broken. */
export const MAX_CONSECUTIVE_FAILURES = 3;

export class HealthTestAbort extends Error implements Hinted {
  readonly hint =
    'The token or its module is not giving random data: do not use it as an entropy source (try another token, or report it to its maker).';
  constructor(readonly failure: HealthFailure, readonly failures: number) {
    super(
      `the token's random output failed the ${failure.test} health test ${failures} times in a row: ${failure.detail}; ` +
        'nothing from the failing chunks was written',
    );
    this.name = 'HealthTestAbort';
  }
}

export class Feeder {
  readonly stats: FeederStats;
  private consecutiveFailures = 0;

  constructor(private readonly o: FeederOptions) {
    this.stats = {
      bytesRead: 0,
      bytesFed: 0,
      bitsCredited: 0,
      chunksFed: 0,
      healthFailures: 0,
      failuresByTest: o.health.counters.failures,
      startedAt: Date.now(),
    };
  }

  /**
   * Feeds `total` bytes as fast as the token gives them (for --once). A chunk that fails is
   * reported and dropped; MAX_CONSECUTIVE_FAILURES in a row end it with HealthTestAbort.
   */
  async once(total: number, signal?: AbortSignal): Promise<FeederStats> {
    let left = total;
    while (left > 0) {
      signal?.throwIfAborted();
      const n = Math.min(left, this.o.chunkSize);
      const failure = await this.feedChunk(n, signal);
      if (failure && this.consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) {
        throw new HealthTestAbort(failure, this.consecutiveFailures);
      }
      if (!failure) left -= n;
    }
    return this.stats;
  }

  /** Feeds until `signal` aborts, by the policy above; logs statistics now and then. */
  async run(signal: AbortSignal): Promise<void> {
    const timer = setInterval(() => this.logStats(), this.o.statsIntervalMs ?? 15 * 60_000);
    timer.unref();
    let lastMode: boolean | undefined;
    try {
      while (!signal.aborted) {
        const pool = (this.o.poolStatus ?? readPoolStatus)();
        if (pool.countMeaningful !== lastMode) {
          lastMode = pool.countMeaningful;
          this.o.log('info', this.describeMode(pool));
        }
        let wait: number;
        if (!pool.countMeaningful) {
          await this.feedChunk(this.o.chunkSize, signal);
          wait = this.o.intervalMs;
        } else if (pool.entropyAvail < pool.writeWakeupThreshold) {
          this.o.log('debug', `entropy count ${pool.entropyAvail} < ${pool.writeWakeupThreshold} bits: topping up`);
          const failure = await this.feedChunk(this.o.chunkSize, signal);
          // Nothing credited (ratio 0) cannot raise the count: fall back to the steady pace.
          wait = failure || this.o.entropyRatio === 0 ? this.o.intervalMs : (this.o.topUpPauseMs ?? 250);
        } else {
          wait = this.o.checkPeriodMs ?? 5000;
        }
        if (!(await pause(wait, signal))) break;
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      clearInterval(timer);
    }
  }

  logStats(): void {
    const s = this.stats;
    const minutes = ((Date.now() - s.startedAt) / 60_000).toFixed(1);
    const f = s.failuresByTest;
    this.o.log(
      'info',
      `statistics after ${minutes} min: ${s.bytesFed} bytes fed to ${this.o.sink.description} in ${s.chunksFed} chunks, ` +
        `${s.bitsCredited} bits credited, ${s.healthFailures} health-test failures ` +
        `(repetition count ${f['repetition-count']}, adaptive proportion ${f['adaptive-proportion']}, stuck output ${f['stuck-output']})`,
    );
  }

  /** One chunk read, tested and (if it passed) written; returns the failure if it did not. */
  private async feedChunk(n: number, signal?: AbortSignal): Promise<HealthFailure | undefined> {
    const chunk = await this.o.source.read(n, signal);
    this.stats.bytesRead += chunk.length;
    const failure = this.o.health.check(chunk);
    if (failure) {
      chunk.fill(0);
      this.consecutiveFailures++;
      this.stats.healthFailures++;
      this.o.log('warn', `health test failed, chunk of ${chunk.length} bytes discarded: ${failure.test}: ${failure.detail}`);
      return failure;
    }
    if (this.consecutiveFailures > 0) this.o.log('info', 'the token\'s output passes the health tests again');
    this.consecutiveFailures = 0;
    const bits = this.o.sink.credits ? Math.floor(chunk.length * this.o.entropyRatio) : 0;
    await this.o.sink.write(chunk, bits);
    chunk.fill(0);
    this.stats.bytesFed += n;
    this.stats.bitsCredited += bits;
    this.stats.chunksFed++;
    this.o.log('debug', `fed ${n} bytes, credited ${bits} bits`);
    return undefined;
  }

  private describeMode(pool: PoolStatus): string {
    const credit = `${this.o.chunkSize}-byte chunks credited at ${this.o.entropyRatio} bits per byte`;
    return pool.countMeaningful
      ? `the kernel counts entropy: topping up with ${credit} whenever the count falls below ${pool.writeWakeupThreshold} bits`
      : `the kernel's entropy count is fixed at ${pool.entropyAvail} bits (Linux 5.18 and later): ` +
          `feeding ${credit} every ${this.o.intervalMs / 1000} s`;
  }
}

/** Waits `ms`; false if aborted meanwhile. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
