// Health tests: cutoffs against the SP 800-90B definitions, then real data through them —
// SoftHSM's C_GenerateRandom must pass; constant, replayed and biased output must not.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HealthTests, adaptiveProportionCutoff, repetitionCountCutoff, APT_WINDOW } from '../../src/rng/health';
import { openModule } from '../../src/pkcs11';
import { makeToken } from '../helpers/softhsm';

/** P(Binomial(n, 2^-h) ≥ c) as an exact fraction num / 2^(h·n), compared with 2^-20 exactly. */
function tailAtMostAlpha(n: number, h: number, c: number): boolean {
  // P(X = k) = C(n,k) (2^h - 1)^(n-k) / 2^(h n)
  const q = (1n << BigInt(h)) - 1n;
  let choose = 1n; // C(n, 0)
  let num = 0n;
  for (let k = 0; k <= n; k++) {
    if (k > 0) choose = (choose * BigInt(n - k + 1)) / BigInt(k);
    if (k >= c) num += choose * q ** BigInt(n - k);
  }
  // num / 2^(h n) ≤ 2^-20  ⇔  num · 2^20 ≤ 2^(h n)
  return num << 20n <= 1n << BigInt(h * n);
}

test('RCT cutoff is 1 + ceil(20 / H) (SP 800-90B 4.4.1; H = 2 gives 11 as in its example)', () => {
  assert.equal(repetitionCountCutoff(2), 11);
  assert.equal(repetitionCountCutoff(4), 6);
  assert.equal(repetitionCountCutoff(8), 4);
  assert.equal(repetitionCountCutoff(0.5), 41);
});

test('APT cutoff is the smallest C with P(B >= C) <= 2^-20 (checked with exact integer arithmetic)', () => {
  for (const h of [1, 2, 3, 4, 6, 8]) {
    const c = adaptiveProportionCutoff(h);
    assert.ok(tailAtMostAlpha(APT_WINDOW, h, c), `H=${h}: P(B >= ${c}) should be <= 2^-20`);
    assert.ok(!tailAtMostAlpha(APT_WINDOW, h, c - 1), `H=${h}: P(B >= ${c - 1}) should exceed 2^-20`);
  }
});

test('the tests defend max(4, credited ratio) bits per byte', () => {
  assert.equal(HealthTests.forEntropyRatio(0).minEntropy, 4);
  assert.equal(HealthTests.forEntropyRatio(2).minEntropy, 4);
  assert.equal(HealthTests.forEntropyRatio(6).minEntropy, 6);
  const h = new HealthTests();
  assert.equal(h.rctCutoff, 6);
  assert.equal(h.aptCutoff, 62);
});

test('16 MiB of SoftHSM C_GenerateRandom output in 64 KiB chunks passes every test', { timeout: 60_000 }, () => {
  const tok = makeToken({ tokens: 'empty' });
  const mod = openModule(tok.module);
  try {
    const session = mod.slots()[0]!.openSession();
    const health = new HealthTests();
    for (let i = 0; i < 256; i++) {
      const failure = health.check(session.generateRandom(65536));
      assert.equal(failure, undefined, `chunk ${i}: ${failure?.detail}`);
    }
    assert.equal(health.counters.chunksTested, 256);
    void session.close();
  } finally {
    mod.close();
    tok.cleanup();
  }
});

test('constant bytes fail: the whole chunk, and a short run inside good data', () => {
  const h = new HealthTests();
  assert.equal(h.check(Buffer.alloc(128, 0x42))?.test, 'stuck-output');
  // Too short for the stuck check, caught by the repetition count test across chunks.
  // A run of 5 across two chunks passes; a run of 6 (the cutoff) fails, because the state
  // carries over from one chunk to the next.
  const h2 = new HealthTests();
  assert.equal(h2.check(Buffer.from([1, 7, 7, 7])), undefined);
  assert.equal(h2.check(Buffer.from([7, 7, 9])), undefined);
  const h3 = new HealthTests();
  assert.equal(h3.check(Buffer.from([1, 7, 7, 7])), undefined);
  assert.equal(h3.check(Buffer.from([7, 7, 7, 9]))?.test, 'repetition-count');
  // A run of 6 in the middle of random data.
  const data = randomBytes(4096);
  data.fill(0xaa, 1000, 1006);
  data[999] = 0x11;
  data[1006] = 0x22;
  assert.equal(new HealthTests().check(data)?.test, 'repetition-count');
  // ... while a run of 5 passes.
  data[1005] = 0x33;
  assert.equal(new HealthTests().check(data), undefined);
});

test('a chunk repeating the previous one fails (a module replaying a buffer)', () => {
  const h = new HealthTests();
  const chunk = randomBytes(256);
  assert.equal(h.check(chunk), undefined);
  assert.equal(h.check(randomBytes(256)), undefined);
  const again = randomBytes(256);
  assert.equal(h.check(again), undefined);
  assert.deepEqual(h.check(Buffer.from(again))?.test, 'stuck-output');
  assert.equal(h.counters.failures['stuck-output'], 1);
});

test('biased data fails the adaptive proportion test; unbiased data of the same length passes', () => {
  // One byte value in ~20% of positions, never in runs: only the APT can see it.
  const biased = randomBytes(64 * 1024);
  for (let i = 0; i < biased.length; i += 5) biased[i] = 0x5a;
  for (let i = 1; i < biased.length; i++) if (biased[i] === 0x5a && biased[i - 1] === 0x5a) biased[i] = 0x00;
  const f = new HealthTests().check(biased);
  assert.equal(f?.test, 'adaptive-proportion');
  assert.match(f!.detail, /byte 0x5a occurred 62 times in a window of 512 \(cutoff 62\)/);
  assert.equal(new HealthTests().check(randomBytes(64 * 1024)), undefined);
});

test('after a failure the state restarts: good data passes again', () => {
  const h = new HealthTests();
  assert.ok(h.check(Buffer.alloc(64, 0)));
  assert.equal(h.check(randomBytes(4096)), undefined);
});
