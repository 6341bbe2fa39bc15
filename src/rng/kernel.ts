// The kernel's side: what /proc says about the entropy pool, and the pool as a sink.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { addEntropy } from '../native';
import type { Hinted } from '../hint';

const PROC = '/proc/sys/kernel/random';

export interface PoolStatus {
  /** bits the kernel counts in its input pool */
  entropyAvail: number;
  /** below this count the kernel wakes writers (rngd and us) */
  writeWakeupThreshold: number;
  poolSize: number;
  /**
   * False where the count carries no information: since Linux 5.18 the pool is a BLAKE2s
   * hash that reports 256 bits once seeded, whatever is drained or added.
   */
  countMeaningful: boolean;
}

export function readPoolStatus(procDir = PROC, release = os.release()): PoolStatus {
  const num = (name: string, fallback: number) => {
    try {
      const n = Number.parseInt(fs.readFileSync(`${procDir}/${name}`, 'utf8'), 10);
      return Number.isNaN(n) ? fallback : n;
    } catch {
      return fallback;
    }
  };
  const entropyAvail = num('entropy_avail', 256);
  const poolSize = num('poolsize', 256);
  return {
    entropyAvail,
    writeWakeupThreshold: num('write_wakeup_threshold', 256),
    poolSize,
    countMeaningful: !kernelAtLeast(release, 5, 18) && poolSize > 256,
  };
}

export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return true; // unknown: assume a modern kernel, the conservative (steady-rate) choice
  const [ma, mi] = [Number(m[1]), Number(m[2])];
  return ma > major || (ma === major && mi >= minor);
}

/** Where health-tested chunks go. */
export interface EntropySink {
  /** `creditBits` is what the chunk is claimed to carry (meaningful only for the kernel) */
  write(chunk: Buffer, creditBits: number): Promise<void>;
  close(): Promise<void>;
  /** for log lines: "the kernel pool", "/tmp/x" */
  readonly description: string;
  /** true if credits reach the kernel */
  readonly credits: boolean;
}

/** The kernel wants CAP_SYS_ADMIN to credit entropy. */
export class EntropyRefusedError extends Error implements Hinted {
  readonly hint = 'Run as root or with CAP_SYS_ADMIN (see contrib/tt-agent-rng.service), or use --output FILE.';
  constructor(options: { cause: unknown }) {
    super('the kernel refused the entropy (RNDADDENTROPY: EPERM)', options);
    this.name = 'EntropyRefusedError';
  }
}

/** RNDADDENTROPY on /dev/random: mixes the chunk in and credits the bits (CAP_SYS_ADMIN). */
export class KernelPoolSink implements EntropySink {
  readonly description = 'the kernel entropy pool (/dev/random)';
  readonly credits = true;
  private fd: number | undefined;

  constructor(devicePath = '/dev/random') {
    this.fd = fs.openSync(devicePath, 'w');
  }

  async write(chunk: Buffer, creditBits: number): Promise<void> {
    if (this.fd === undefined) throw new Error('kernel pool sink is closed');
    try {
      addEntropy(this.fd, chunk, creditBits);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPERM') throw new EntropyRefusedError({ cause: err });
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A file or stream (stdout) receiving the tested bytes, for use without root and for tests. */
export class StreamSink implements EntropySink {
  readonly credits = false;
  constructor(
    private readonly stream: NodeJS.WritableStream,
    readonly description: string,
    private readonly closeStream: boolean,
  ) {}

  write(chunk: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    if (!this.closeStream) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(() => resolve());
    });
  }
}

/**
 * A file, created (mode 0600: the bytes may become someone's keys) only when the first chunk
 * passes its tests, so a token that fails from the start leaves nothing behind.
 */
export class FileSink implements EntropySink {
  readonly credits = false;
  private fd: number | undefined;
  constructor(readonly description: string) {}

  async write(chunk: Buffer): Promise<void> {
    if (this.fd === undefined) this.fd = fs.openSync(this.description, 'w', 0o600);
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off);
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** Closes and removes the file if this sink created it (a run that must leave nothing). */
  discard(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
    fs.rmSync(this.description, { force: true });
  }
}
