// Continuous health tests on the token's output, after NIST SP 800-90B section 4.4, run on
// every byte before any of it reaches the kernel:
//   4.4.1 Repetition Count Test (RCT): a run of C identical samples is a failure.
//   4.4.2 Adaptive Proportion Test (APT): in a window of W = 512 samples (the value for
//         non-binary, here 8-bit, samples), the first sample's value recurring C times fails.
// plus a stuck-output check the standard does not have but tokens need: a chunk identical to
// the previous one (a module that replays a buffer), or a chunk of one repeated byte.
//
// Both cutoffs come from H, the min-entropy per sample the tests defend, and the false
// alarm probability α = 2^-20 per sample (the value 90B recommends).
//
// What H means here: a token's C_GenerateRandom is normally a DRBG's output, which should
// look like 8 bits per byte; the tests are not there to prove that (nothing black-box can),
// but to catch a token that has plainly broken — stuck, replaying, or heavily biased. H =
// 4 bits per byte (MIN_ENTROPY_PER_BYTE) keeps false alarms on good output out of reach
// (RCT: a run of 6 equal bytes, ~2^-40 per position; APT: 1 byte value ≥ ~1/8 of a window)
// while catching any output with less than about 4 bits per byte. When the administrator
// credits more than 4 bits per byte, the tests use that claim as H, so a claim is never
// weaker than the test that guards it.
import { createHash } from 'node:crypto';

export const ALPHA_LOG2 = 20; // α = 2^-20
export const APT_WINDOW = 512;
export const MIN_ENTROPY_PER_BYTE = 4;
// A chunk shorter than this is not checked for "all bytes equal" or "same as the previous
// chunk": the chance that good output trips those checks must stay below α.
const STUCK_CHECK_MIN_BYTES = 16;

export type HealthTestName = 'repetition-count' | 'adaptive-proportion' | 'stuck-output';

export interface HealthFailure {
  test: HealthTestName;
  /** one line, for the log */
  detail: string;
}

/** SP 800-90B 4.4.1: C = 1 + ⌈-log2(α) / H⌉. */
export function repetitionCountCutoff(h: number, alphaLog2 = ALPHA_LOG2): number {
  return 1 + Math.ceil(alphaLog2 / h);
}

/**
 * SP 800-90B 4.4.2: C = 1 + CRITBINOM(W, 2^-H, 1 - α), CRITBINOM(n, p, q) being the
 * smallest k with P(Binomial(n, p) ≤ k) ≥ q. The binomial tail is summed from the top
 * in log space so that probabilities near 2^-20 keep their precision.
 */
export function adaptiveProportionCutoff(h: number, window = APT_WINDOW, alphaLog2 = ALPHA_LOG2): number {
  const p = 2 ** -h;
  const alpha = 2 ** -alphaLog2;
  const logPmf = (k: number) => logChoose(window, k) + k * Math.log(p) + (window - k) * Math.log1p(-p);
  // Find the largest k whose upper tail P(X ≥ k) is still > α: CRITBINOM is that k.
  let tail = 0;
  for (let k = window; k >= 0; k--) {
    tail += Math.exp(logPmf(k));
    if (tail > alpha) return 1 + k;
  }
  return 1;
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

const logFactorials: number[] = [0];
function logFactorial(n: number): number {
  for (let i = logFactorials.length; i <= n; i++) logFactorials[i] = logFactorials[i - 1]! + Math.log(i);
  return logFactorials[n]!;
}

export interface HealthCounters {
  chunksTested: number;
  failures: Record<HealthTestName, number>;
}

/**
 * The tests' running state. The RCT run and the APT window continue across chunks (they are
 * continuous tests on one stream); after a failure the state starts afresh.
 */
export class HealthTests {
  readonly minEntropy: number;
  readonly rctCutoff: number;
  readonly aptCutoff: number;
  readonly counters: HealthCounters = {
    chunksTested: 0,
    failures: { 'repetition-count': 0, 'adaptive-proportion': 0, 'stuck-output': 0 },
  };

  private rctValue = -1;
  private rctRun = 0;
  private aptValue = -1;
  private aptCount = 0;
  private aptSeen = 0;
  private previousDigest: Buffer | undefined;

  constructor(options: { minEntropy?: number } = {}) {
    this.minEntropy = options.minEntropy ?? MIN_ENTROPY_PER_BYTE;
    if (!(this.minEntropy > 0 && this.minEntropy <= 8)) throw new RangeError('min-entropy must be in (0, 8] bits per byte');
    this.rctCutoff = repetitionCountCutoff(this.minEntropy);
    this.aptCutoff = adaptiveProportionCutoff(this.minEntropy);
  }

  /** For a credit of `ratio` bits per byte: the tests' H is max(MIN_ENTROPY_PER_BYTE, ratio). */
  static forEntropyRatio(ratio: number): HealthTests {
    return new HealthTests({ minEntropy: Math.min(8, Math.max(MIN_ENTROPY_PER_BYTE, ratio)) });
  }

  /** Runs every test over `chunk`; undefined when it passed, else the first failure. */
  check(chunk: Buffer): HealthFailure | undefined {
    this.counters.chunksTested++;
    const failure = this.stuck(chunk) ?? this.continuous(chunk);
    if (failure) {
      this.counters.failures[failure.test]++;
      this.reset();
    }
    return failure;
  }

  reset(): void {
    this.rctValue = -1;
    this.rctRun = 0;
    this.aptValue = -1;
    this.aptCount = 0;
    this.aptSeen = 0;
  }

  private stuck(chunk: Buffer): HealthFailure | undefined {
    if (chunk.length < STUCK_CHECK_MIN_BYTES) return undefined;
    const first = chunk[0]!;
    if (chunk.every((b) => b === first)) {
      return { test: 'stuck-output', detail: `all ${chunk.length} bytes of the chunk are 0x${hex(first)}` };
    }
    // A digest, not a copy: random bytes already fed should not linger in memory.
    const digest = createHash('sha256').update(chunk).digest();
    const same = this.previousDigest?.equals(digest) ?? false;
    this.previousDigest = digest;
    if (same) return { test: 'stuck-output', detail: `the chunk of ${chunk.length} bytes repeats the previous one` };
    return undefined;
  }

  private continuous(chunk: Buffer): HealthFailure | undefined {
    const rctC = this.rctCutoff;
    const aptC = this.aptCutoff;
    for (let i = 0; i < chunk.length; i++) {
      const v = chunk[i]!;
      // 4.4.1: B counts the current run; B ≥ C is a failure.
      if (v === this.rctValue) {
        if (++this.rctRun >= rctC) {
          return { test: 'repetition-count', detail: `byte 0x${hex(v)} repeated ${this.rctRun} times in a row (cutoff ${rctC})` };
        }
      } else {
        this.rctValue = v;
        this.rctRun = 1;
      }
      // 4.4.2: the window's first sample sets A; B counts A's occurrences in the window.
      if (this.aptSeen === 0) {
        this.aptValue = v;
        this.aptCount = 1;
      } else if (v === this.aptValue && ++this.aptCount >= aptC) {
        return {
          test: 'adaptive-proportion',
          detail: `byte 0x${hex(v)} occurred ${this.aptCount} times in a window of ${APT_WINDOW} (cutoff ${aptC})`,
        };
      }
      if (++this.aptSeen === APT_WINDOW) this.aptSeen = 0;
    }
    return undefined;
  }
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
