// The feeding loop with real tokens: SoftHSM, and SoftHSM behind a deliberately broken or
// pullable module. The kernel's /proc view is read from files so both policies can be run.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Feeder, HealthTestAbort, type Log } from '../../src/rng/feeder';
import { HealthTests } from '../../src/rng/health';
import { FileSink, KernelPoolSink, readPoolStatus } from '../../src/rng/kernel';
import { TokenRandomSource } from '../../src/rng/token-source';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { brokenModuleUnavailable, buildBrokenModule } from './broken-module';

const isRoot = process.getuid?.() === 0;

function recorder(): { log: Log; lines: string[] } {
  const lines: string[] = [];
  return { log: (level, message) => lines.push(`${level}: ${message}`), lines };
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tt-rng-feed-'));
}

async function withToken(fn: (tok: TestToken, dir: string) => Promise<void>): Promise<void> {
  const tok = makeToken({ tokens: 'empty' });
  const dir = tempDir();
  try {
    await fn(tok, dir);
  } finally {
    tok.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('once(): SoftHSM output into a file, exactly the bytes asked for', { timeout: 60_000 }, () =>
  withToken(async (tok, dir) => {
    const { log } = recorder();
    const source = new TokenRandomSource({ modulePath: tok.module, log });
    const out = path.join(dir, 'out.bin');
    const sink = new FileSink(out);
    const feeder = new Feeder({ source, sink, health: new HealthTests(), chunkSize: 1000, entropyRatio: 2, intervalMs: 1000, log });
    const stats = await feeder.once(100_000);
    await source.close();
    await sink.close();
    assert.equal(fs.statSync(out).size, 100_000);
    assert.equal(stats.bytesFed, 100_000);
    assert.equal(stats.chunksFed, 100); // 1000-byte chunks
    assert.equal(stats.bitsCredited, 0); // a file gets no credit
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
  }),
);

test('once(): into the kernel pool, credited at the ratio', { timeout: 60_000, skip: !isRoot && 'needs root' }, () =>
  withToken(async (tok) => {
    const { log } = recorder();
    const source = new TokenRandomSource({ modulePath: tok.module, log });
    const sink = new KernelPoolSink();
    const feeder = new Feeder({ source, sink, health: new HealthTests(), chunkSize: 65536, entropyRatio: 2, intervalMs: 1000, log });
    const stats = await feeder.once(256 * 1024);
    await source.close();
    await sink.close();
    assert.equal(stats.bytesFed, 262144);
    assert.equal(stats.bitsCredited, 262144 * 2);
  }),
);

test('a constant-bytes token is caught, and nothing reaches the sink', { timeout: 60_000, skip: brokenModuleUnavailable() }, () =>
  withToken(async (_tok, dir) => {
    const mod = buildBrokenModule();
    process.env.TT_BROKEN_MODE = 'constant';
    try {
      const { log, lines } = recorder();
      const source = new TokenRandomSource({ modulePath: mod.path, log });
      const out = path.join(dir, 'never.bin');
      const sink = new FileSink(out);
      const feeder = new Feeder({ source, sink, health: new HealthTests(), chunkSize: 128, entropyRatio: 2, intervalMs: 1000, log });
      await assert.rejects(feeder.once(4096), (e: unknown) => e instanceof HealthTestAbort && e.failures === 3);
      await source.close();
      await sink.close();
      assert.equal(fs.existsSync(out), false);
      assert.equal(feeder.stats.bytesFed, 0);
      assert.equal(feeder.stats.healthFailures, 3);
      assert.equal(lines.filter((l) => /^warn: health test failed, chunk of 128 bytes discarded: stuck-output/.test(l)).length, 3);
    } finally {
      delete process.env.TT_BROKEN_MODE;
      mod.cleanup();
    }
  }),
);

/** A fake /proc/sys/kernel/random with the given numbers, for readPoolStatus(dir, release). */
function procDir(dir: string, avail: number, threshold: number, poolsize: number): string {
  const p = path.join(dir, 'proc');
  fs.mkdirSync(p, { recursive: true });
  fs.writeFileSync(path.join(p, 'entropy_avail'), `${avail}\n`);
  fs.writeFileSync(path.join(p, 'write_wakeup_threshold'), `${threshold}\n`);
  fs.writeFileSync(path.join(p, 'poolsize'), `${poolsize}\n`);
  return p;
}

test('pool status: the count is meaningful before 5.18 only', () => {
  const dir = tempDir();
  try {
    const p = procDir(dir, 100, 896, 4096);
    assert.deepEqual(readPoolStatus(p, '5.10.0-28-amd64'), { entropyAvail: 100, writeWakeupThreshold: 896, poolSize: 4096, countMeaningful: true });
    assert.equal(readPoolStatus(p, '5.18.0').countMeaningful, false);
    assert.equal(readPoolStatus(p, '6.18.44-fc').countMeaningful, false);
    // This machine, whatever its kernel: the real files parse.
    const real = readPoolStatus();
    assert.ok(real.entropyAvail >= 0 && real.writeWakeupThreshold > 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('run(): tops up only below the threshold where the count means something', { timeout: 60_000 }, () =>
  withToken(async (tok, dir) => {
    const { log, lines } = recorder();
    const p = procDir(dir, 100, 896, 4096);
    const source = new TokenRandomSource({ modulePath: tok.module, log });
    const sink = new FileSink(path.join(dir, 'out.bin'));
    const feeder = new Feeder({
      source, sink, health: new HealthTests(), chunkSize: 64, entropyRatio: 2, intervalMs: 60_000, log,
      topUpPauseMs: 50, checkPeriodMs: 50, poolStatus: () => readPoolStatus(p, '5.10.0'),
    });
    const stop = new AbortController();
    const running = feeder.run(stop.signal);
    await new Promise((r) => setTimeout(r, 600));
    const whileLow = feeder.stats.chunksFed;
    fs.writeFileSync(path.join(p, 'entropy_avail'), '3000\n'); // someone else filled the pool
    await new Promise((r) => setTimeout(r, 200));
    const atFull = feeder.stats.chunksFed;
    await new Promise((r) => setTimeout(r, 600));
    stop.abort();
    await running;
    await source.close();
    await sink.close();
    assert.ok(whileLow >= 3, `fed ${whileLow} chunks while below the threshold`);
    assert.equal(feeder.stats.chunksFed, atFull, 'no chunk once above the threshold');
    assert.ok(lines.some((l) => /topping up with 64-byte chunks .* below 896 bits/.test(l)), lines.join('\n'));
  }),
);

test('run(): a steady chunk per interval where the count is pinned at 256', { timeout: 60_000 }, () =>
  withToken(async (tok, dir) => {
    const { log, lines } = recorder();
    const p = procDir(dir, 256, 256, 256);
    const source = new TokenRandomSource({ modulePath: tok.module, log });
    const sink = new FileSink(path.join(dir, 'out.bin'));
    const feeder = new Feeder({
      source, sink, health: new HealthTests(), chunkSize: 128, entropyRatio: 2, intervalMs: 200, log,
      poolStatus: () => readPoolStatus(p, '6.1.0'),
    });
    const stop = new AbortController();
    const running = feeder.run(stop.signal);
    await new Promise((r) => setTimeout(r, 1100));
    stop.abort();
    await running;
    await source.close();
    await sink.close();
    // t = 0, 200, ..., 1000 ms: about six chunks, never a burst.
    assert.ok(feeder.stats.chunksFed >= 4 && feeder.stats.chunksFed <= 7, `fed ${feeder.stats.chunksFed} chunks`);
    assert.ok(lines.some((l) => /fixed at 256 bits .* every 0.2 s/.test(l)), lines.join('\n'));
  }),
);

test('run(): the token pulled out and put back: waits, reconnects, logs both', { timeout: 60_000, skip: brokenModuleUnavailable() }, () =>
  withToken(async (_tok, dir) => {
    const mod = buildBrokenModule();
    const flag = path.join(dir, 'removed');
    process.env.TT_BROKEN_MODE = 'pass';
    process.env.TT_REMOVED_FLAG = flag;
    try {
      const { log, lines } = recorder();
      const p = procDir(dir, 256, 256, 256);
      const source = new TokenRandomSource({ modulePath: mod.path, log, retryMs: 100 });
      const sink = new FileSink(path.join(dir, 'out.bin'));
      const feeder = new Feeder({
        source, sink, health: new HealthTests(), chunkSize: 128, entropyRatio: 2, intervalMs: 50, log,
        poolStatus: () => readPoolStatus(p, '6.1.0'),
      });
      const stop = new AbortController();
      const running = feeder.run(stop.signal);
      await new Promise((r) => setTimeout(r, 300));
      const before = feeder.stats.chunksFed;
      fs.writeFileSync(flag, ''); // pulled
      await new Promise((r) => setTimeout(r, 500));
      const whileAway = feeder.stats.chunksFed;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(feeder.stats.chunksFed, whileAway, 'nothing fed while the token is away');
      fs.rmSync(flag); // put back
      await new Promise((r) => setTimeout(r, 600));
      stop.abort();
      await running;
      await source.close();
      await sink.close();
      assert.ok(before > 0);
      assert.ok(feeder.stats.chunksFed > whileAway, 'feeding resumed');
      const text = lines.join('\n');
      assert.match(text, /warn: token 'empty' went away \(C_GenerateRandom: CKR_DEVICE_REMOVED\); waiting for it to come back/);
      assert.match(text, /info: waiting for a token: no token present .*; checking again every 0.1 s/);
      assert.match(text, /info: reconnected to token 'empty'/);
    } finally {
      delete process.env.TT_BROKEN_MODE;
      delete process.env.TT_REMOVED_FLAG;
      mod.cleanup();
    }
  }),
);
