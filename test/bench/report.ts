// The benchmark's results as markdown: throughput, latency, the issue's goals with ✓/✗,
// memory, start-up, and the evidence that the client was not the limit.
import { renderShellStart, type ShellStartTiming } from './shell-start';
import { median } from './stats';

export const KEY_TITLES: Record<string, string> = { rsa2048: 'RSA-2048', p256: 'P-256', p384: 'P-384', ed25519: 'Ed25519' };

export interface CellRounds {
  rates: number[];
  p50us: number[];
  p99us: number[];
  /** CPU of the agent's processes (agent + module hosts / pkcs11 helper) per signature, µs */
  agentCpuUs: number[];
  /** CPU of the load generator per signature, µs */
  clientCpuUs: number[];
  signatures: number;
  verified: number;
  bad: number;
}

export interface BenchResults {
  date: string;
  machine: string;
  loadBefore: number[];
  loadAfter: number[];
  rounds: number;
  seconds: number;
  concurrency: number[];
  rawSessions: number;
  keys: string[];
  smoke: boolean;
  raw: Record<string, { one: CellRounds; several: CellRounds }>;
  /** agent → key → concurrency */
  agents: Record<'OpenSSH' | 'tt-agent', Record<string, Record<number, CellRounds | undefined>>> & {
    'tt-agent, module in-process'?: Record<string, Record<number, CellRounds | undefined>>;
  };
  calibration: Array<{ concurrency: number; rate: number; clientCpuUs: number }>;
  memory?: { idle: Mem; after: Mem; after2: Mem; signatures: number; bareNode?: ProcMem; openSsh?: Mem };
  evalTiming?: { ttAgentMs: number; nodeMs: number; ratio: number; runs: number };
  coldStart?: { ttAgentMs: number; openSshMs: number };
  shellStart?: ShellStartTiming;
  notes: string[];
}

interface ProcMem {
  role: string;
  rssMb: number;
  pssMb: number;
}

interface Mem {
  rssMb: number;
  uniqueMb: number;
  pssMb: number;
  processes: number;
  each?: ProcMem[];
}

export function emptyCell(): CellRounds {
  return { rates: [], p50us: [], p99us: [], agentCpuUs: [], clientCpuUs: [], signatures: 0, verified: 0, bad: 0 };
}

const rate = (c?: CellRounds) => (c && c.rates.length ? median(c.rates) : NaN);

/**
 * Median over rounds of a[i] / b[i]. Both cells were measured in the same round, one right
 * after the other, so a ratio per round cancels most of the load other processes put on
 * the machine; the median of those is steadier than a ratio of two medians.
 */
export function pairedRatio(a: number[] | undefined, b: number[] | undefined): number {
  if (!a || !b) return NaN;
  const n = Math.min(a.length, b.length);
  return n === 0 ? NaN : median(Array.from({ length: n }, (_, i) => a[i] / b[i]));
}
const ratioOf = (a?: CellRounds, b?: CellRounds) => pairedRatio(a?.rates, b?.rates);
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const ms = (us: number) => (Number.isFinite(us) ? (us / 1000).toFixed(us < 10_000 ? 2 : 1) : 'n/a');

export interface Goal {
  what: string;
  target: string;
  value: number;
  ok: boolean;
  shown: string;
}

export function judgeGoals(r: BenchResults): Goal[] {
  const goals: Goal[] = [];
  const ratio = (key: string, c: number) => ratioOf(r.agents['tt-agent'][key]?.[c], r.agents.OpenSSH[key]?.[c]);
  // Two decimals, or three where two would round a miss up to the target (1.196 → "1.20 ✗").
  const atLeast = (what: string, value: number, min: number) =>
    goals.push({ what, target: `≥ ${min}`, value, ok: value >= min, shown: fmt(value, value < min && Number(value.toFixed(2)) >= min ? 3 : 2) });
  const c1 = r.concurrency[0];
  const cMax = r.concurrency[r.concurrency.length - 1];
  const perKey: Array<[string, number, number]> = [
    ['rsa2048', 1.2, 2.0],
    ['p256', 2.5, 3.0],
    ['p384', 2.5, 3.0],
  ];
  for (const [key, atC1] of perKey) if (r.keys.includes(key)) atLeast(`tt-agent / OpenSSH, ${KEY_TITLES[key]}, C=${c1}`, ratio(key, c1), atC1);
  for (const [key, , atCMax] of perKey) if (r.keys.includes(key)) atLeast(`tt-agent / OpenSSH, ${KEY_TITLES[key]}, C=${cMax}`, ratio(key, cMax), atCMax);
  if (r.keys.includes('rsa2048')) {
    atLeast(`tt-agent C=${c1} / raw one session, RSA-2048`, ratioOf(r.agents['tt-agent'].rsa2048?.[c1], r.raw.rsa2048?.one), 0.85);
  }
  for (const [key] of perKey) {
    if (!r.keys.includes(key)) continue;
    const tt = median(r.agents['tt-agent'][key]?.[cMax]?.p99us ?? []);
    const os = median(r.agents.OpenSSH[key]?.[cMax]?.p99us ?? []);
    const v = pairedRatio(r.agents['tt-agent'][key]?.[cMax]?.p99us, r.agents.OpenSSH[key]?.[cMax]?.p99us);
    goals.push({ what: `p99 at C=${cMax}, ${KEY_TITLES[key]}: tt-agent / OpenSSH`, target: '≤ 0.5', value: v, ok: v <= 0.5, shown: `${fmt(v, 2)} (${ms(tt)} ms vs ${ms(os)} ms)` });
  }
  if (r.evalTiming) {
    const v = r.evalTiming.ratio;
    goals.push({ what: "eval $(tt-agent), agent running / node -e ''", target: '≤ 1.3', value: v, ok: v <= 1.3, shown: `${fmt(v, 2)} (${fmt(r.evalTiming.ttAgentMs, 1)} ms vs ${fmt(r.evalTiming.nodeMs, 1)} ms)` });
  }
  if (r.shellStart) {
    // The login shell starts whether or not it looks for an agent: the snippet's cost is what
    // sourcing it adds to that shell (the whole `sh -c` is shown beside it).
    const v = r.shellStart.snippetMs - r.shellStart.shellMs;
    goals.push({ what: 'new shell finding the running agent (contrib/profile.sh), median', target: '≤ 10 ms', value: v, ok: v <= 10, shown: `${fmt(v, 1)} ms on top of the shell (with sh's own start ${fmt(r.shellStart.snippetMs, 1)} ms; node -e '' ${fmt(r.shellStart.nodeMs, 1)} ms)` });
  }
  if (r.memory) {
    const m = r.memory;
    const peak = Math.max(m.idle.uniqueMb, m.after.uniqueMb, m.after2.uniqueMb);
    const peakSum = Math.max(m.idle.rssMb, m.after.rssMb, m.after2.rssMb);
    goals.push({
      what: 'agent memory, all processes (RSS, shared files once)',
      target: '≤ 100 MB',
      value: peak,
      ok: peak <= 100,
      shown: `${fmt(peak, 1)} MB (plain RSS sum ${fmt(peakSum, 1)} MB ${peakSum <= 100 ? '✓' : '✗'})`,
    });
    const drift = (m.after2.uniqueMb - m.after.uniqueMb) / m.after.uniqueMb;
    goals.push({
      what: `memory flat: RSS after ${fmt(2 * m.signatures)} vs after ${fmt(m.signatures)} signatures`,
      target: '±10 %',
      value: drift,
      ok: Math.abs(drift) <= 0.1,
      shown: `${drift >= 0 ? '+' : ''}${fmt(drift * 100, 1)} %`,
    });
  }
  return goals;
}

export function renderReport(r: BenchResults): string {
  const L: string[] = [];
  const cs = r.concurrency;
  L.push(`# tt-agent benchmark, ${r.date}${r.smoke ? ' (smoke run: too short to judge)' : ''}`, '');
  L.push(`${r.machine}`);
  L.push(`Load average before: ${r.loadBefore.map((x) => x.toFixed(2)).join(' ')}; after: ${r.loadAfter.map((x) => x.toFixed(2)).join(' ')}.`);
  L.push(`${r.rounds} rounds of ${r.seconds} s per cell, rounds interleaved (OpenSSH and tt-agent alternate first); figures are medians of the rounds. Payload 64 random bytes, each client on its own connection, RSA signs rsa-sha2-256. Every signature was verified with node:crypto.`, '');

  L.push('## Signatures per second', '');
  L.push(`| key | raw C_Sign, 1 session | raw, ${r.rawSessions} sessions | ${cs.map((c) => `OpenSSH C=${c}`).join(' | ')} | ${cs.map((c) => `tt-agent C=${c}`).join(' | ')} |`);
  L.push(`|---|---|---|${cs.map(() => '---').join('|')}|${cs.map(() => '---').join('|')}|`);
  for (const key of r.keys) {
    const raw = r.raw[key];
    L.push(
      `| ${KEY_TITLES[key]} | ${fmt(rate(raw?.one))} | ${fmt(rate(raw?.several))} | ${cs.map((c) => fmt(rate(r.agents.OpenSSH[key]?.[c]))).join(' | ')} | ${cs.map((c) => fmt(rate(r.agents['tt-agent'][key]?.[c]))).join(' | ')} |`,
    );
  }
  L.push('', '## Ratios (median over rounds of the ratio within each round)', '');
  L.push(`| key | ${cs.map((c) => `tt-agent / OpenSSH C=${c}`).join(' | ')} | ${cs.map((c) => `tt-agent C=${c} / raw 1 session`).join(' | ')} | tt-agent C=${cs[cs.length - 1]} / raw ${r.rawSessions} sessions |`);
  L.push(`|---|${cs.map(() => '---').join('|')}|${cs.map(() => '---').join('|')}|---|`);
  for (const key of r.keys) {
    const tt = (c: number) => r.agents['tt-agent'][key]?.[c];
    L.push(
      `| ${KEY_TITLES[key]} | ${cs.map((c) => fmt(ratioOf(tt(c), r.agents.OpenSSH[key]?.[c]), 2)).join(' | ')} | ${cs.map((c) => fmt(ratioOf(tt(c), r.raw[key]?.one), 2)).join(' | ')} | ${fmt(ratioOf(tt(cs[cs.length - 1]), r.raw[key]?.several), 2)} |`,
    );
  }
  L.push('', '## Latency (ms): p50 / p99', '');
  L.push(`| key | ${cs.map((c) => `OpenSSH C=${c}`).join(' | ')} | ${cs.map((c) => `tt-agent C=${c}`).join(' | ')} |`);
  L.push(`|---|${cs.map(() => '---').join('|')}|${cs.map(() => '---').join('|')}|`);
  const lat = (c?: CellRounds) => (c ? `${ms(median(c.p50us))} / ${ms(median(c.p99us))}` : 'n/a');
  for (const key of r.keys) {
    L.push(`| ${KEY_TITLES[key]} | ${cs.map((c) => lat(r.agents.OpenSSH[key]?.[c])).join(' | ')} | ${cs.map((c) => lat(r.agents['tt-agent'][key]?.[c])).join(' | ')} |`);
  }
  L.push('', '## CPU per signature (µs): agent processes / load generator', '');
  L.push(`| key | ${cs.map((c) => `OpenSSH C=${c}`).join(' | ')} | ${cs.map((c) => `tt-agent C=${c}`).join(' | ')} |`);
  L.push(`|---|${cs.map(() => '---').join('|')}|${cs.map(() => '---').join('|')}|`);
  const cpu = (c?: CellRounds) => (c ? `${fmt(median(c.agentCpuUs))} / ${fmt(median(c.clientCpuUs))}` : 'n/a');
  for (const key of r.keys) {
    L.push(`| ${KEY_TITLES[key]} | ${cs.map((c) => cpu(r.agents.OpenSSH[key]?.[c])).join(' | ')} | ${cs.map((c) => cpu(r.agents['tt-agent'][key]?.[c])).join(' | ')} |`);
  }

  const inline = r.agents['tt-agent, module in-process'];
  if (inline) {
    L.push('', '## What the module host process costs (BENCH_INLINE=1)', '');
    L.push('The agent core with the module loaded into the agent process (test/bench/inline-agent.ts: no crash containment), measured in the same rounds. Signatures/s, and the ratio to OpenSSH:', '');
    L.push(`| key | ${cs.map((c) => `in-process C=${c}`).join(' | ')} | ${cs.map((c) => `tt-agent (host) C=${c}`).join(' | ')} | ${cs.map((c) => `in-process / OpenSSH C=${c}`).join(' | ')} | in-process C=${cs[0]} / raw 1 session |`);
    L.push(`|---|${cs.map(() => '---').join('|')}|${cs.map(() => '---').join('|')}|${cs.map(() => '---').join('|')}|---|`);
    for (const key of r.keys) {
      L.push(
        `| ${KEY_TITLES[key]} | ${cs.map((c) => fmt(rate(inline[key]?.[c]))).join(' | ')} | ${cs.map((c) => fmt(rate(r.agents['tt-agent'][key]?.[c]))).join(' | ')} | ${cs.map((c) => fmt(ratioOf(inline[key]?.[c], r.agents.OpenSSH[key]?.[c]), 2)).join(' | ')} | ${fmt(ratioOf(inline[key]?.[cs[0]], r.raw[key]?.one), 2)} |`,
      );
    }
    L.push('', `p50 / p99 latency at C=${cs[cs.length - 1]}, in-process: ${r.keys.map((k) => `${KEY_TITLES[k]} ${lat(inline[k]?.[cs[cs.length - 1]])} ms`).join('; ')}.`);
  }

  if (!r.smoke) {
    L.push('', '## Goals (issue 7)', '');
    L.push('| goal | target | measured | met |', '|---|---|---|---|');
    for (const g of judgeGoals(r)) L.push(`| ${g.what} | ${g.target} | ${g.shown} | ${g.ok ? '✓' : '✗'} |`);
  }

  L.push('', '## Memory, start-up', '');
  if (r.memory) {
    const m = r.memory;
    const show = (x: Mem) =>
      `${fmt(x.uniqueMb, 1)} MB (plain RSS sum ${fmt(x.rssMb, 1)} MB, PSS ${fmt(x.pssMb, 1)} MB, ${x.processes} processes)`;
    L.push(
      '- Memory of the agent and its module host: resident anonymous memory of both plus each mapped file once (both are `node`; the plain RSS sum counts the resident node binary, ~35 MB, twice; PSS depends on how many other node processes the machine runs).',
    );
    L.push(`- tt-agent idle with the token loaded: ${show(m.idle)}`);
    L.push(`- after ${fmt(m.signatures)} signatures: ${show(m.after)}; after ${fmt(2 * m.signatures)}: ${show(m.after2)}`);
    const each = (x: ProcMem) => `${x.role} RSS ${fmt(x.rssMb, 1)} MB, PSS ${fmt(x.pssMb, 1)} MB`;
    if (m.after2.each) L.push(`- each process after ${fmt(2 * m.signatures)} signatures: ${m.after2.each.map(each).join('; ')}`);
    if (m.bareNode) L.push(`- for reference, at the same moment: a bare \`node -e\` process RSS ${fmt(m.bareNode.rssMb, 1)} MB, PSS ${fmt(m.bareNode.pssMb, 1)} MB${m.openSsh ? `; OpenSSH ssh-agent and its pkcs11 helper (token loaded) RSS ${fmt(m.openSsh.rssMb, 1)} MB, PSS ${fmt(m.openSsh.pssMb, 1)} MB` : ''}`);
  }
  if (r.evalTiming) {
    const e = r.evalTiming;
    L.push(`- \`eval $(tt-agent)\` with an agent running: ${fmt(e.ttAgentMs, 1)} ms; \`node -e ''\`: ${fmt(e.nodeMs, 1)} ms (medians of ${e.runs})`);
  }
  if (r.shellStart) L.push(...renderShellStart(r.shellStart));
  if (r.coldStart) {
    L.push(`- cold start to a socket that answers: tt-agent ${fmt(r.coldStart.ttAgentMs, 0)} ms, OpenSSH ssh-agent ${fmt(r.coldStart.openSshMs, 0)} ms`);
  }
  L.push('', '## Is the client the limit?', '');
  L.push(
    'The load generator is one process: at C=1 a worker thread doing blocking write(2)/read(2) on its socket (nothing between a reply and the next request), above that one event loop over all connections (the least CPU per signature). It keeps every reply and verifies it after the round, so verification costs nothing during the timed window. Against a responder that answers every request at once with a canned signature (echo-agent.ts), the same client reaches:',
    '',
  );
  for (const c of r.calibration) L.push(`- C=${c.concurrency}: ${fmt(c.rate)} signatures/s, ${fmt(c.clientCpuUs, 1)} µs of client CPU per signature`);
  L.push('', 'far above any agent cell, and the CPU table above shows its share during the real runs (the load generator\'s µs per signature next to the agent\'s).');
  if (r.notes.length) L.push('', '## Notes', '', ...r.notes.map((n) => `- ${n}`));
  return L.join('\n') + '\n';
}
