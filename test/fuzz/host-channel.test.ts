// The CI form of `npm run fuzz:host`: a few thousand random and mutated module-host frames
// into the agent's real side of the channel. Nothing escapes, each bad frame ends only the
// host that sent it (with a refusal in the log), and no PIN reaches a module that does not
// serve its token.
import assert from 'node:assert/strict';
import test from 'node:test';
import { runHostFuzz } from './host-fuzzer';

test('host-channel fuzz, short run: bad frames end only their host, never the agent', { timeout: 60_000 }, async () => {
  const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const r = await runHostFuzz({ frames: Number(process.env.HOST_FUZZ_FRAMES ?? 4000), seed });
  const summary = `seed ${seed}: ${r.frames} frames in ${r.seconds} s, ${r.hostsKilled} hosts killed`;
  assert.deepEqual(r.failures, [], summary);
  assert.ok(r.frames >= 4000, summary);
  assert.ok(r.hostsKilled > r.frames / 4, `bad frames did end hosts: ${summary}`);
  assert.ok(r.answersTaken > 0, `good answers were taken: ${summary}`);
  assert.ok(r.sentinelSignatures > 0, `the other module signed throughout: ${summary}`);
  console.log(summary);
});
