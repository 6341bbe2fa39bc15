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
  /** VmRSS summed over the tree, MB (pages shared between the processes count once per process) */
  rssMb: number;
  /**
   * The tree's resident memory with shared files counted once: anonymous and shmem RSS of
   * every process, plus for each mapped file the largest RSS any one process has of it. The
   * agent and its module hosts are all `node`, so the plain sum counts the ~35 MB of the node
   * binary's resident text once per process although the kernel holds it once.
   */
  uniqueMb: number;
  /** Pss summed over the tree, MB (shared pages split between the processes sharing them) */
  pssMb: number;
  processes: number;
  /** each process of the tree, the agent first */
  each: ProcessMemory[];
}

export interface ProcessMemory {
  pid: number;
  /** 'agent', 'module host', or the command name */
  role: string;
  rssMb: number;
  pssMb: number;
}

/** RSS and PSS of one process (/proc/PID/status, /proc/PID/smaps_rollup). */
export function processMemory(pid: number, role: string): ProcessMemory {
  return {
    pid,
    role,
    rssMb: kb(`/proc/${pid}/status`, /^VmRSS:\s+(\d+)/m) / 1024,
    pssMb: kb(`/proc/${pid}/smaps_rollup`, /^Pss:\s+(\d+)/m) / 1024,
  };
}

function roleOf(pid: number, root: number): string {
  if (pid === root) return 'agent';
  let cmd = '';
  try {
    cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    // gone meanwhile
  }
  return /host[/]main\.[jt]s/.test(cmd) ? 'module host' : cmd.split('\0')[0].split('/').pop() || `pid ${pid}`;
}

export function treeMemory(pid: number): TreeMemory {
  let rss = 0;
  let pss = 0;
  let anon = 0;
  const files = new Map<string, number>();
  const pids = processTree(pid);
  const each: ProcessMemory[] = [];
  for (const p of pids) {
    each.push(processMemory(p, roleOf(p, pid)));
    rss += kb(`/proc/${p}/status`, /^VmRSS:\s+(\d+)/m);
    anon += kb(`/proc/${p}/status`, /^RssAnon:\s+(\d+)/m) + kb(`/proc/${p}/status`, /^RssShmem:\s+(\d+)/m);
    pss += kb(`/proc/${p}/smaps_rollup`, /^Pss:\s+(\d+)/m);
    for (const [file, kbs] of fileRss(p)) files.set(file, Math.max(files.get(file) ?? 0, kbs));
  }
  let unique = anon;
  for (const v of files.values()) unique += v;
  return { rssMb: rss / 1024, uniqueMb: unique / 1024, pssMb: pss / 1024, processes: pids.length, each };
}

/** Resident KiB per mapped file of one process (/proc/PID/smaps). */
function fileRss(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps`, 'latin1');
  } catch {
    return out;
  }
  let file: string | undefined;
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s+(.*)$/.exec(line);
    if (head) {
      // inode 0: anonymous, heap, stack, vdso (counted through RssAnon)
      file = head[1] !== '0' && head[2].startsWith('/') ? head[2] : undefined;
    } else if (file && line.startsWith('Rss:')) {
      out.set(file, (out.get(file) ?? 0) + Number(line.split(/\s+/)[1]));
    }
  }
  return out;
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
