// Who asked: the client process the kernel named at connect() (SO_PEERCRED pid) and its
// parents, read from /proc while they belong to the same user, so a use reads "ssh ← git push"
// rather than a bare "ssh". Read once per connection, on its first signature; the pid is the
// kernel's word, the command lines are whatever those processes set (shown, never trusted).
import { readFileSync } from 'node:fs';

export interface RequesterProcess {
  pid: number;
  command: string;
}

const MAX_DEPTH = 6;
const MAX_COMMAND = 120;
const HEAD = 40;

export function readRequesterChain(pid: number, uid: number, proc = '/proc'): RequesterProcess[] {
  const chain: RequesterProcess[] = [];
  let current = pid;
  while (current > 1 && chain.length < MAX_DEPTH) {
    const info = readProcess(proc, current);
    // The first process is the peer itself (its uid was checked at connect); parents only while ours.
    if (!info || (chain.length > 0 && info.uid !== uid)) break;
    chain.push({ pid: current, command: info.command });
    current = info.ppid;
  }
  return chain;
}

function readProcess(proc: string, pid: number): { uid: number; ppid: number; command: string } | undefined {
  let status: string;
  let cmdline: Buffer;
  try {
    status = readFileSync(`${proc}/${pid}/status`, 'latin1');
    cmdline = readFileSync(`${proc}/${pid}/cmdline`);
  } catch {
    return undefined; // gone already, or not ours to read
  }
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1];
  const uid = field('Uid');
  const ppid = field('PPid');
  if (uid === undefined || ppid === undefined) return undefined;
  const args = cmdline.toString('utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  // Kernel threads and zombies have no command line: their name is in status.
  let command = args.length > 0 ? [baseName(args[0]), ...args.slice(1)].join(' ') : (/^Name:\s*(.*)$/m.exec(status)?.[1] ?? '?');
  // The program and the end of its arguments say most (`ssh … -p 22 host cmd`): the middle goes.
  if (command.length > MAX_COMMAND) command = `${command.slice(0, HEAD)}…${command.slice(command.length - (MAX_COMMAND - HEAD - 1))}`;
  return { uid: Number(uid), ppid: Number(ppid), command };
}

function baseName(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/** `ssh -p 22 host (4242) ← git push (4240)`; the innermost process first. */
export function describeRequester(chain: readonly RequesterProcess[], pid?: number): string {
  if (chain.length === 0) return pid === undefined ? 'unknown process' : `pid ${pid} (gone)`;
  return chain.map((p) => `${p.command} (${p.pid})`).join(' ← ');
}
