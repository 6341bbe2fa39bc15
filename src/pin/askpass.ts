// Asking through an SSH_ASKPASS program, with OpenSSH's rules (readpass.c): the program gets
// the prompt as argv[1] and prints the secret on stdout; SSH_ASKPASS_REQUIRE=never forbids
// it, =force uses it even without a display, otherwise it needs DISPLAY or WAYLAND_DISPLAY.
// The agent has no terminal of its own, so (like ssh-agent's confirmations) askpass is its
// first choice whenever those rules allow it.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

export type AskpassRequire = 'never' | 'prefer' | 'force';

export interface AskpassOptions {
  /** Default: $SSH_ASKPASS, else the distribution's ssh-askpass where installed. */
  program?: string;
  /** Default: $SSH_ASKPASS_REQUIRE. */
  require?: AskpassRequire;
  /** Environment of the askpass program, and where DISPLAY/WAYLAND_DISPLAY are looked up. */
  env?: NodeJS.ProcessEnv;
  /** A prompt nobody answers counts as cancelled after this long. Default 120 s. */
  timeoutMs?: number;
}

export type AskResult = { kind: 'pin'; pin: Buffer } | { kind: 'cancelled'; reason: string } | { kind: 'unavailable'; reason: string };

const DEFAULT_PROGRAMS = ['/usr/bin/ssh-askpass', '/usr/lib/ssh/ssh-askpass', '/usr/libexec/openssh/ssh-askpass', '/usr/lib/openssh/gnome-ssh-askpass'];
const MAX_OUTPUT = 1024;

/** The program to run, or why askpass is not to be used. */
export function askpassPlan(opts: AskpassOptions = {}): { program: string } | { skip: string } {
  const env = opts.env ?? process.env;
  const raw = (opts.require ?? env.SSH_ASKPASS_REQUIRE ?? '').toLowerCase();
  if (raw === 'never') return { skip: 'SSH_ASKPASS_REQUIRE=never' };
  const force = raw === 'force';
  if (!force && !env.DISPLAY && !env.WAYLAND_DISPLAY) return { skip: 'no DISPLAY or WAYLAND_DISPLAY (set SSH_ASKPASS_REQUIRE=force to use SSH_ASKPASS anyway)' };
  const program = opts.program ?? (env.SSH_ASKPASS || DEFAULT_PROGRAMS.find((p) => isExecutable(p)));
  if (!program) return { skip: 'SSH_ASKPASS is not set and no ssh-askpass is installed' };
  return { program };
}

/**
 * Runs the askpass program with `prompt` as argv[1]. The PIN is its stdout up to the first
 * CR or LF, as bytes; a non-zero exit is a cancel (the person pressed Cancel).
 */
export function runAskpass(program: string, prompt: string, opts: AskpassOptions = {}): Promise<AskResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve) => {
    const out = Buffer.alloc(MAX_OUTPUT);
    let used = 0;
    let overflow = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (r: AskResult) => {
      if (settled) {
        if (r.kind === 'pin') r.pin.fill(0);
        return;
      }
      settled = true;
      clearTimeout(timer);
      out.fill(0);
      resolve(r);
    };
    let child;
    try {
      child = spawn(program, [prompt], { stdio: ['ignore', 'pipe', 'ignore'], env: opts.env ?? process.env });
    } catch (err) {
      done({ kind: 'unavailable', reason: `cannot run ${program}: ${(err as Error).message}` });
      return;
    }
    timer = setTimeout(() => {
      child.kill('SIGTERM');
      done({ kind: 'cancelled', reason: `${program} got no answer within ${Math.round(timeoutMs / 1000)} s` });
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      const n = Math.min(chunk.length, MAX_OUTPUT - used);
      if (n < chunk.length) overflow = true;
      chunk.copy(out, used, 0, n);
      used += n;
      chunk.fill(0);
    });
    child.on('error', (err: NodeJS.ErrnoException) => done({ kind: 'unavailable', reason: `cannot run ${program} (${err.code ?? err.message})` }));
    child.on('close', (code, signal) => {
      if (code !== 0) return done({ kind: 'cancelled', reason: `${program} ended with ${signal ?? `exit status ${code}`}` });
      if (overflow) return done({ kind: 'cancelled', reason: `${program} printed more than ${MAX_OUTPUT} bytes` });
      let end = 0;
      while (end < used && out[end] !== 0x0a && out[end] !== 0x0d) end++;
      const pin = Buffer.alloc(end);
      out.copy(pin, 0, 0, end);
      done({ kind: 'pin', pin });
    });
  });
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
