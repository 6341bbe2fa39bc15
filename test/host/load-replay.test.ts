// LoadReplay's rules, on a clock the test moves: only keys a load reported are looked for
// again, one reload per load per interval, and misses meanwhile share the run under way.
import assert from 'node:assert/strict';
import test from 'node:test';
import { LoadReplay, RELOAD_INTERVAL_MS } from '../../src/host/load-replay';

const a = Buffer.from('key a');
const b = Buffer.from('key b');

function setup() {
  let now = 1_000_000;
  const replay = new LoadReplay(RELOAD_INTERVAL_MS, () => now);
  const runs: (string | undefined)[] = [];
  let found: Buffer[] = [];
  const load = async (uri: string | undefined) => {
    runs.push(uri);
    return found;
  };
  return { replay, runs, load, advance: (ms: number) => (now += ms), find: (keys: Buffer[]) => (found = keys) };
}

test('a key no load reported is never loaded again', async () => {
  const s = setup();
  s.replay.loaded('pkcs11:token=one', [a]);
  assert.equal(await s.replay.reloadFor(b, s.load), false);
  assert.deepEqual(s.runs, []);
});

test('the load that reported the key runs again, once per interval', async () => {
  const s = setup();
  s.replay.loaded(undefined, [b]);
  s.replay.loaded('pkcs11:token=one', [a]);
  assert.deepEqual(s.replay.uris, [undefined, 'pkcs11:token=one']);
  assert.equal(await s.replay.reloadFor(a, s.load), false, 'the token is still out');
  assert.deepEqual(s.runs, ['pkcs11:token=one']);
  s.find([a]);
  s.advance(RELOAD_INTERVAL_MS - 1);
  assert.equal(await s.replay.reloadFor(a, s.load), false, 'too soon: turned away without a run');
  assert.deepEqual(s.runs, ['pkcs11:token=one']);
  s.advance(1);
  assert.equal(await s.replay.reloadFor(a, s.load), true);
  assert.deepEqual(s.runs, ['pkcs11:token=one', 'pkcs11:token=one']);
  // Another load has its own clock.
  assert.equal(await s.replay.reloadFor(b, s.load), false);
  assert.deepEqual(s.runs, ['pkcs11:token=one', 'pkcs11:token=one', undefined]);
});

test('misses during a reload share it; a failed reload is a miss', async () => {
  const s = setup();
  s.replay.loaded('u', [a, b]);
  let release!: (keys: Buffer[]) => void;
  let calls = 0;
  const slow = (): Promise<Buffer[]> => {
    calls++;
    return new Promise((r) => (release = r));
  };
  const both = Promise.all([s.replay.reloadFor(a, slow), s.replay.reloadFor(b, slow)]);
  release([b]);
  assert.deepEqual(await both, [false, true]);
  assert.equal(calls, 1);
  s.advance(RELOAD_INTERVAL_MS);
  assert.equal(await s.replay.reloadFor(a, () => Promise.reject(new Error('host gone'))), false);
  s.replay.clear();
  s.advance(RELOAD_INTERVAL_MS);
  assert.equal(await s.replay.reloadFor(a, s.load), false, 'forgotten after clear');
  assert.deepEqual(s.runs, []);
});
