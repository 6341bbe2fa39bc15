// Memory and CPU of a process and its descendants, read from /proc (Linux). The agent's
// figure must include its module host children, and OpenSSH's its pkcs11 helper.
import * as fs from 'node:fs';

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(Number(name));
    if (!fields) continue;
    const ppid = Number(fields[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** Fields of /proc/PID/stat after the command name: [state, ppid, ...], or undefined when gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export interface TreeMemory {
  /** VmRSS summed over the tree, MB (shared pages count once per process: the pessimistic figure) */
  rssMb: number;
  /** Pss summed over the tree, MB (shared pages split between the processes sharing them) */
  pssMb: number;
  processes: number;
}

export function treeMemory(pid: number): TreeMemory {
  let rss = 0;
  let pss = 0;
  const pids = processTree(pid);
  for (const p of pids) {
    rss += kb(`/proc/${p}/status`, /^VmRSS:\s+(\d+)/m);
    pss += kb(`/proc/${p}/smaps_rollup`, /^Pss:\s+(\d+)/m);
  }
  return { rssMb: rss / 1024, pssMb: pss / 1024, processes: pids.length };
}

function kb(file: string, re: RegExp): number {
  try {
    const m = re.exec(fs.readFileSync(file, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const TICK = 100; // USER_HZ on Linux

/** User + system CPU seconds used so far by the tree (its live processes). */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const f = statFields(p);
    // after the name: state(0) ppid(1) ... utime(11) stime(12)
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / TICK;
}
