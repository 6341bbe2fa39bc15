// The CI form of `npm run soak`: 16 clients × 50 signatures with file and token keys while
// another client adds, removes, locks and unlocks. Needs `npm run build` first.
import assert from 'node:assert/strict';
import test from 'node:test';
import { runSoak } from './soak';

test('soak, short run: no wrong signature, no descriptor leak, the agent stays up', { timeout: 120_000 }, async () => {
  const r = await runSoak({ clients: 16, signaturesPerClient: 50, chaosActions: 40 });
  const summary = JSON.stringify({ seconds: r.seconds, signatures: r.signatures, chaos: r.chaos, fds: [r.before.fds, r.after.fds] });
  assert.deepEqual(r.failures, [], summary);
  assert.equal(r.signatures.wrong, 0, r.wrongAnswers.join('\n'));
  assert.equal(r.signatures.verified + r.signatures.failed, 16 * 50);
  // Most signatures succeed: the chaos client takes keys away only now and then.
  assert.ok(r.signatures.verified > 16 * 50 * 0.25, summary);
  assert.ok(r.signatures.tokenKey > 0 && r.signatures.fileKey > 0, summary);
  assert.ok((r.chaos['lock-unlock'] ?? 0) > 0 && (r.chaos['remove-token'] ?? 0) > 0, `the chaos client acted: ${summary}`);
  assert.ok(r.after.agentFds <= r.before.agentFds, `agent fds ${r.before.agentFds} → ${r.after.agentFds}`);
  console.log(summary);
});
