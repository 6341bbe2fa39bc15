// The CI form of `npm run fuzz`: ~20,000 random and mutated messages through the real socket
// of a compiled tt-agent with a SoftHSM token and file keys. Needs `npm run build` first.
import assert from 'node:assert/strict';
import test from 'node:test';
import { runFuzz } from './fuzzer';

test('protocol fuzz, short run: the agent survives, answers, signs right, stays bounded and quiet', { timeout: 120_000 }, async () => {
  const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const r = await runFuzz({ messages: Number(process.env.FUZZ_MESSAGES ?? 20_000), seed, batch: 2000, connections: 8 });
  const summary = `seed ${seed}: ${r.messages} messages in ${r.seconds} s, max RSS ${Math.round(r.rss.maxKiB / 1024)} MiB`;
  assert.deepEqual(r.failures, [], summary);
  assert.ok(r.messages >= 20_000, summary);
  // Most in-sync messages got their reply (the rest went to clients that vanished on purpose).
  assert.ok(r.replies > r.messages * 0.6, `${r.replies} replies: ${summary}`);
  assert.equal(r.badReplies, 0);
  assert.equal(r.stderr.unexpected.length, 0, r.stderr.unexpected.join('\n'));
  assert.ok(r.kinds['huge-length'] || r.kinds['zero-length'], 'some connections broke the framing');
  assert.ok(r.rss.maxKiB - r.rss.startKiB < 256 * 1024, summary);
  // A module host restarted by a REMOVE_ALL may hold a descriptor or two more or less than the first one.
  assert.ok(r.fds.end <= r.fds.start + 4, `fds ${r.fds.start} → ${r.fds.end}`);
  console.log(summary);
});
