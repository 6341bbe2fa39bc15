// Two builds of tt-agent side by side on one fresh SoftHSM token, for a before/after figure on
// a machine too busy for `npm run bench`: rounds alternate between the builds (which goes
// first alternates too), and the ratio is the median of the per-round ratios, so load from
// other processes hits both alike. Every signature is verified.
//   node --import tsx test/bench/compare.ts /path/to/other/checkout   (built: dist/ present)
// Knobs: COMPARE_KEYS (p256,rsa2048), COMPARE_C (1,16), COMPARE_ROUNDS (7), COMPARE_SECONDS (1).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SSH_AGENT_RSA_SHA2_256 } from '../../src/protocol/signature';
import { makeToken, type KeySpec } from '../helpers/softhsm';
import { REPO_ROOT, startTtAgent, type BenchAgent } from './agents';
import { runJob } from './client';
import { treeMemory } from './proc';
import { median } from './stats';

const KEYS: Record<string, { spec: KeySpec; type: string; flags: number }> = {
  p256: { spec: { kind: 'ec:prime256v1', id: '02', label: 'p256' }, type: 'ecdsa-sha2-nistp256', flags: 0 },
  rsa2048: { spec: { kind: 'rsa:2048', id: '01', label: 'rsa2048' }, type: 'ssh-rsa', flags: SSH_AGENT_RSA_SHA2_256 },
  ed25519: { spec: { kind: 'ed25519', id: '04', label: 'ed25519' }, type: 'ssh-ed25519', flags: 0 },
};

async function main(): Promise<void> {
  const other = process.argv[2];
  if (!other) throw new Error('usage: compare.ts OTHER_CHECKOUT');
  const keys = (process.env.COMPARE_KEYS ?? 'p256,rsa2048').split(',');
  const conc = (process.env.COMPARE_C ?? '1,16').split(',').map(Number);
  const rounds = Number(process.env.COMPARE_ROUNDS ?? 7);
  const seconds = Number(process.env.COMPARE_SECONDS ?? 1);
  const tok = makeToken({ tokens: [{ label: 'compare', keys: keys.map((k) => KEYS[k].spec) }], setEnv: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-compare-'));
  const setup = { dir, env: tok.env, module: tok.module, pin: tok.pin };
  const builds: Array<{ name: string; agent: BenchAgent }> = [];
  try {
    builds.push({ name: 'this', agent: await startTtAgent(setup, [], path.join(REPO_ROOT, 'bin', 'tt-agent')) });
    builds.push({ name: 'other', agent: await startTtAgent(setup, [], path.join(path.resolve(other), 'bin', 'tt-agent')) });
    console.log(`# this (${REPO_ROOT}) vs other (${path.resolve(other)}); load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log('| key | C | this /s | other /s | this / other (median of rounds) | this p99 ms | other p99 ms |');
    console.log('|---|---|---|---|---|---|---|');
    for (const key of keys) {
      for (const c of conc) {
        const rates: Record<string, number[]> = { this: [], other: [] };
        const p99: Record<string, number[]> = { this: [], other: [] };
        const ratios: number[] = [];
        for (let r = 0; r < rounds; r++) {
          const order = r % 2 === 0 ? builds : [...builds].reverse();
          const got: Record<string, number> = {};
          for (const b of order) {
            const blob = b.agent.keys.find((k) => k.type === KEYS[key].type)!.blob;
            const res = await runJob({ socket: b.agent.sock, blob: blob.toString('base64'), flags: KEYS[key].flags, concurrency: c, seconds, warmup: 3 });
            if (res.bad) throw new Error(`${b.name} ${key} C=${c}: ${res.bad} bad signatures (${res.firstError})`);
            got[b.name] = res.rate;
            rates[b.name].push(res.rate);
            p99[b.name].push(res.p99us / 1000);
          }
          ratios.push(got.this / got.other);
        }
        const f = (n: number) => Math.round(n).toLocaleString('en-US');
        console.log(`| ${key} | ${c} | ${f(median(rates.this))} | ${f(median(rates.other))} | ${median(ratios).toFixed(2)} | ${median(p99.this).toFixed(2)} | ${median(p99.other).toFixed(2)} |`);
      }
    }
    for (const b of builds) {
      const m = treeMemory(b.agent.pid);
      console.log(`- ${b.name}: ${m.each.map((e) => `${e.role} RSS ${e.rssMb.toFixed(1)} MB, PSS ${e.pssMb.toFixed(1)} MB`).join('; ')}`);
    }
  } finally {
    for (const b of builds) await b.agent.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    tok.cleanup();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
