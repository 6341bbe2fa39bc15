// Self time per function in a V8 .cpuprofile (from profile.ts), largest first:
//   node --import tsx test/bench/top-functions.ts FILE [count=30]
// Native calls show under the JS function that made them (pkcs11js's wrapper for C_Sign).
// The sampler counts wall time of the thread, so a syscall that waits (a write that wakes
// the other process) looks more expensive than its CPU cost: read /proc accounting too.
import * as fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

function main(): void {
  const [file, count = '30'] = process.argv.slice(2);
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const f = byId.get(id)!.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber}`;
    self.set(name, (self.get(name) ?? 0) + dt);
  });
  console.log(`total ${(total / 1000).toFixed(0)} ms`);
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
    console.log(`${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`);
  }
}

main();
