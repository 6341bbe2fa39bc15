// `tt-agent rng` as users run it: the compiled CLI (bin/tt-agent → dist/; `npm test` builds
// first, or run `npx tsc -p .` before running this file alone).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { HealthTests } from '../../src/rng/health';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { brokenModuleUnavailable, buildBrokenModule } from './broken-module';

const BIN = path.resolve(__dirname, '../../bin/tt-agent');
const isRoot = process.getuid?.() === 0;

function run(args: string[], env: NodeJS.ProcessEnv, opts: { uid?: number; gid?: number } = {}) {
  // An empty --config keeps a real /etc/token-tools.conf on this machine out of the tests.
  return spawnSync(process.execPath, [BIN, 'rng', ...args], { env, encoding: 'utf8', timeout: 60_000, ...opts });
}

function setup(): { tok: TestToken; dir: string; conf: string; done: () => void } {
  const tok = makeToken({ tokens: 'empty', setEnv: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-rng-cli-'));
  fs.chmodSync(dir, 0o755);
  const conf = path.join(dir, 'token-tools.conf');
  fs.writeFileSync(conf, '[Global]\n');
  return { tok, dir, conf, done: () => (tok.cleanup(), fs.rmSync(dir, { recursive: true, force: true })) };
}

function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n').filter((l) => l.startsWith('tt-agent: ') || l.startsWith('  '));
  assert.match(lines[0] ?? '', pattern, stderr);
  assert.match(lines[1] ?? '', /^ {2}\S/, stderr);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

test('--once 1048576 --output FILE: exactly 1 MiB from SoftHSM, passing the health tests', { timeout: 60_000 }, () => {
  const s = setup();
  try {
    const out = path.join(s.dir, 'random.bin');
    const r = run([s.tok.module, '--config', s.conf, '--once', '1048576', '--output', out], s.tok.env);
    assert.equal(r.status, 0, r.stderr);
    const data = fs.readFileSync(out);
    assert.equal(data.length, 1048576);
    const health = new HealthTests();
    for (let i = 0; i < data.length; i += 65536) assert.equal(health.check(data.subarray(i, i + 65536)), undefined);
    // An independent judge: random data does not compress.
    assert.ok(gzipSync(data).length > data.length * 0.99);
    assert.match(r.stderr, /1048576 bytes fed to .*random.bin in 8192 chunks, 0 bits credited, 0 health-test failures/);
  } finally {
    s.done();
  }
});

test('--output -: the bytes on stdout, 64K suffix understood', { timeout: 60_000 }, () => {
  const s = setup();
  try {
    const r = spawnSync(process.execPath, [BIN, 'rng', s.tok.module, '--config', s.conf, '--once', '64K', '--chunk', '4K', '--output', '-'], {
      env: s.tok.env,
      timeout: 60_000,
    });
    assert.equal(r.status, 0, String(r.stderr));
    assert.equal(r.stdout.length, 65536);
  } finally {
    s.done();
  }
});

test('a constant-bytes token is caught: exit 1, one-line error, no file', { timeout: 60_000, skip: brokenModuleUnavailable() }, () => {
  const s = setup();
  const mod = buildBrokenModule();
  try {
    const out = path.join(s.dir, 'random.bin');
    const r = run([mod.path, '--config', s.conf, '--once', '1M', '--output', out], { ...s.tok.env, TT_BROKEN_MODE: 'constant' });
    assert.equal(r.status, 1, r.stderr);
    assertOneLineError(r.stderr, /^tt-agent: the token's random output failed the stuck-output health test 3 times in a row/);
    assert.equal(fs.existsSync(out), false);
    // A replaying token: the first chunk passes, the repeats do not, and the file is removed.
    const r2 = run([mod.path, '--config', s.conf, '--once', '1M', '--output', out], { ...s.tok.env, TT_BROKEN_MODE: 'replay' });
    assert.equal(r2.status, 1, r2.stderr);
    assert.match(r2.stderr, /repeats the previous one/);
    assert.equal(fs.existsSync(out), false);
  } finally {
    mod.cleanup();
    s.done();
  }
});

test('the TokenRNG config file supplies module and chunk size; flags override it', { timeout: 60_000 }, () => {
  const s = setup();
  try {
    fs.writeFileSync(s.conf, `[Global]\npkcs11_library = ${s.tok.module}\nrandom_chunk_size = 1000\nentropy_ratio = 2\ndebug = no\n`);
    const out = path.join(s.dir, 'r.bin');
    const r = run(['--config', s.conf, '--once', '5000', '--output', out], s.tok.env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /5000 bytes fed .* in 5 chunks/);
    const r2 = run(['--config', s.conf, '--once', '5000', '--chunk', '2500', '--output', out], s.tok.env);
    assert.match(r2.stderr, /5000 bytes fed .* in 2 chunks/);
  } finally {
    s.done();
  }
});

test('bad settings: one line each, exit 2', () => {
  const s = setup();
  try {
    const r = run([s.tok.module, '--config', s.conf, '--entropy-ratio', '9', '--output', '-'], s.tok.env);
    assert.equal(r.status, 2);
    assertOneLineError(r.stderr, /^tt-agent: --entropy-ratio 9 is more than 8 bits per byte/);
    const r2 = run([s.tok.module, '--config', path.join(s.dir, 'missing.conf'), '--output', '-'], s.tok.env);
    assert.equal(r2.status, 2);
    assertOneLineError(r2.stderr, /^tt-agent: cannot read the configuration file .*missing.conf: ENOENT/);
    const r3 = run([s.tok.module, '--config', s.conf, '--entropy-ratio', '6', '--once', '128', '--output', path.join(s.dir, 'x')], s.tok.env);
    assert.equal(r3.status, 0, r3.stderr);
    assert.match(r3.stderr, /warn: crediting 6 bits per byte is unwise/);
  } finally {
    s.done();
  }
});

test('without root and without --output: says that feeding the kernel needs root', { skip: !isRoot && 'needs root to run as another uid' }, () => {
  const s = setup();
  try {
    const r = run([s.tok.module, '--config', s.conf], s.tok.env, { uid: 65534, gid: 65534 });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(
      r.stderr,
      'tt-agent: feeding the kernel needs root (CAP_SYS_ADMIN)\n  Run as root, or use --output FILE to write the tested bytes to a file.\n',
    );
  } finally {
    s.done();
  }
});

test('as root: --once into the kernel pool, credited', { timeout: 60_000, skip: !isRoot && 'needs root' }, () => {
  const s = setup();
  try {
    const r = run([s.tok.module, '--config', s.conf, '--once', '64K', '--chunk', '64K', '--entropy-ratio', '2'], s.tok.env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /65536 bytes fed to the kernel entropy pool \(\/dev\/random\) in 1 chunks, 131072 bits credited/);
  } finally {
    s.done();
  }
});

test('long-running: statistics on SIGUSR1, clean exit on SIGTERM', { timeout: 60_000 }, async () => {
  const s = setup();
  try {
    const out = path.join(s.dir, 'stream.bin');
    const child = spawn(process.execPath, [BIN, 'rng', s.tok.module, '--config', s.conf, '--interval', '0.1', '--output', out, '-D'], {
      env: s.tok.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 200 && !re.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(stderr, re);
    };
    await waitFor(/reading random data from token 'empty'/);
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGUSR1');
    await waitFor(/statistics after .* bytes fed to/);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
    assert.equal(code, 0, stderr);
    assert.ok(fs.statSync(out).size >= 128 * 3, 'several chunks at a 0.1 s interval');
    assert.equal(fs.statSync(out).size % 128, 0);
  } finally {
    s.done();
  }
});
