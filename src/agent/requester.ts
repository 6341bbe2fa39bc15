// Who asked: the client process the kernel named at connect() (SO_PEERCRED pid) and its
// parents, read from /proc while they belong to the same user, up to the leader of the
// client's session (the shell the command was typed in), so a use reads "ssh ← git push ←
// bash" rather than a bare "ssh", and says nothing of the processes above the user's shell.
// Read once per connection, on its first signature; the pid is the kernel's word, the
// command lines are whatever those processes set (shown, never trusted).
import { readFileSync, statSync } from 'node:fs';

export interface RequesterProcess {
  pid: number;
  command: string;
}

const MAX_DEPTH = 5;
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
    if (info.sessionLeader) break;
    current = info.ppid;
  }
  return chain;
}

function readProcess(proc: string, pid: number): { uid: number; ppid: number; sessionLeader: boolean; command: string } | undefined {
  let stat: string;
  let cmdline: Buffer;
  let uid: number;
  try {
    stat = readFileSync(`${proc}/${pid}/stat`, 'latin1');
    cmdline = readFileSync(`${proc}/${pid}/cmdline`);
    uid = statSync(`${proc}/${pid}`).uid;
  } catch {
    return undefined; // gone already, or not ours to read
  }
  // "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  const session = Number(fields[3]);
  if (close < 0 || !Number.isInteger(ppid) || !Number.isInteger(session)) return undefined;
  const args = cmdline.toString('utf8').split('\0');
  if (args[args.length - 1] === '') args.pop();
  // Kernel threads and zombies have no command line: their name is in stat.
  let command = args.length > 0 ? [baseName(args[0]), ...args.slice(1)].join(' ') : stat.slice(stat.indexOf('(') + 1, close);
  // The program and the end of its arguments say most (`ssh … -p 22 host cmd`): the middle goes.
  if (command.length > MAX_COMMAND) command = `${command.slice(0, HEAD)}…${command.slice(command.length - (MAX_COMMAND - HEAD - 1))}`;
  return { uid, ppid, sessionLeader: session === pid, command };
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
