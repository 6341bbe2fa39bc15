// CI coverage of the benchmark: `run.ts --smoke` must run end to end in a few seconds, with
// OpenSSH's agent and tt-agent on a fresh token, and every signature must verify (the run
// exits non-zero otherwise). Needs the compiled CLI (npm run build), like the agent tests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import test from 'node:test';

// The limits bound a hung run; a loaded 2-core machine takes over a minute for what a quiet one does in 15 s.
test('npm run bench --smoke: every agent and key signs, every signature verifies', { timeout: 300_000 }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_SMOKE: '1' };
  delete env.BENCH_OUT; // a smoke run saves no results file
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'run.ts'), '--smoke'], {
    env,
    encoding: 'utf8',
    timeout: 290_000,
  });
  assert.equal(r.status, 0, `bench smoke run failed:\n${r.stderr}\n${r.stdout}`);
  assert.match(r.stderr, /bench: [1-9]\d* signatures verified, 0 failed/);
  for (const key of ['RSA-2048', 'P-256', 'P-384', 'Ed25519']) {
    // a row with a number in every tt-agent column (OpenSSH offers no Ed25519 token key)
    const row = r.stdout.split('\n').find((l) => l.startsWith(`| ${key} |`));
    assert.ok(row, `no throughput row for ${key}:\n${r.stdout}`);
    const cells = row.split('|').slice(2, -1).map((c) => c.trim());
    assert.ok(cells.slice(-2).every((c) => /^[\d,]+$/.test(c) && c !== '0'), `tt-agent cells for ${key}: ${row}`);
    if (key !== 'Ed25519') assert.ok(cells.every((c) => /^[\d,]+$/.test(c)), `cells for ${key}: ${row}`);
  }
  assert.match(r.stdout, /eval \$\(tt-agent\)/);
  // Figures over 999 carry a thousands separator (a loaded machine starts slowly).
  assert.match(r.stdout, /cold start to a socket that answers: tt-agent [\d,]+ ms/);
  // RSS and PSS of each process, the agent and its module host, after the memory run.
  assert.match(r.stdout, /each process after [\d,]+ signatures: agent RSS [\d.]+ MB, PSS [\d.]+ MB; module host RSS [\d.]+ MB, PSS [\d.]+ MB\n/);
  assert.match(r.stdout, /a bare `node -e` process RSS [\d.]+ MB, PSS [\d.]+ MB/);
  assert.match(r.stdout, /profile snippet \(contrib\/profile\.sh\) -?[\d.]+ ms on top of the shell \(`sh -c '\. profile\.sh'` [\d.]+ ms, `sh -c :` [\d.]+ ms\); `tt-agent -s` [\d.]+ ms; `node -e ''` [\d.]+ ms; OpenSSH `ssh-agent -s` \(a new agent\) [\d.]+ ms/);
});
