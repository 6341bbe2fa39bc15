// Asking through pinentry (GnuPG's PIN dialog) by speaking its Assuan protocol on the
// program's stdin/stdout: the server greets with "OK", every command is answered by "OK" or
// "ERR <code> <text>", and GETPIN sends the PIN as "D <percent-escaped bytes>" lines before
// its "OK". Parameters escape '%', CR and LF as %XX (Assuan developer manual, section 3.2).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AskResult } from './askpass';

export interface PinentryOptions {
  /** Default: $TT_AGENT_PINENTRY, else `pinentry` on PATH. */
  program?: string;
  /** The terminal a curses/tty pinentry draws on (OPTION ttyname). Default: $GPG_TTY. */
  ttyname?: string;
  env?: NodeJS.ProcessEnv;
  /** Default 120 s; also sent as SETTIMEOUT so the dialog closes itself. */
  timeoutMs?: number;
}

export interface PinentryTexts {
  title: string;
  description: string;
  prompt: string;
  /** Shown in the error slot (pinentry paints it red): the final-try warning. */
  error?: string;
}

// gpg-error codes within an Assuan ERR (the low 16 bits): GPG_ERR_CANCELED, GPG_ERR_TIMEOUT.
const GPG_ERR_CANCELED = 99;
const GPG_ERR_TIMEOUT = 62;
const MAX_LINE = 4096;

/** The pinentry to run and its terminal, or why none can be shown. */
export function pinentryPlan(opts: PinentryOptions = {}): { program: string; ttyname?: string } | { skip: string } {
  const env = opts.env ?? process.env;
  const program = opts.program ?? (env.TT_AGENT_PINENTRY || findOnPath('pinentry', env.PATH));
  if (!program) return { skip: 'pinentry is not installed' };
  const ttyname = opts.ttyname ?? env.GPG_TTY;
  // With neither a display nor a terminal it could only answer "Inappropriate ioctl for device".
  if (!ttyname && !env.DISPLAY && !env.WAYLAND_DISPLAY) return { skip: 'pinentry has no DISPLAY, WAYLAND_DISPLAY or GPG_TTY to show itself on' };
  return { program, ttyname };
}

export function assuanEscape(text: string): string {
  return text.replace(/[%\r\n]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** Appends the bytes of an Assuan data line (after "D ") to `into` at `at`; returns the new length. */
export function percentDecodeInto(line: Buffer, start: number, into: Buffer, at: number): number {
  const hex = (b: number) => (b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x41 && b <= 0x46 ? b - 0x37 : b >= 0x61 && b <= 0x66 ? b - 0x57 : -1);
  for (let i = start; i < line.length && at < into.length; i++) {
    const b = line[i];
    if (b === 0x25 && i + 2 < line.length && hex(line[i + 1]) >= 0 && hex(line[i + 2]) >= 0) {
      into[at++] = hex(line[i + 1]) * 16 + hex(line[i + 2]);
      i += 2;
    } else {
      into[at++] = b;
    }
  }
  return at;
}

export function runPinentry(program: string, texts: PinentryTexts, opts: PinentryOptions & { ttyname?: string } = {}): Promise<AskResult> {
  const env = opts.env ?? process.env;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const commands: string[] = [];
  if (opts.ttyname) commands.push(`OPTION ttyname=${opts.ttyname}`, `OPTION ttytype=${env.TERM || 'vt100'}`);
  if (env.LANG || env.LC_ALL || env.LC_CTYPE) commands.push(`OPTION lc-ctype=${env.LC_ALL || env.LC_CTYPE || env.LANG}`);
  commands.push(`SETTIMEOUT ${Math.max(1, Math.round(timeoutMs / 1000))}`);
  commands.push(`SETTITLE ${assuanEscape(texts.title)}`, `SETDESC ${assuanEscape(texts.description)}`, `SETPROMPT ${assuanEscape(texts.prompt)}`);
  if (texts.error) commands.push(`SETERROR ${assuanEscape(texts.error)}`);
  commands.push('GETPIN');

  return new Promise((resolve) => {
    const pin = Buffer.alloc(MAX_LINE);
    let pinLength = 0;
    let pending = Buffer.alloc(0);
    let next = 0; // index into commands of the command awaiting its reply; -1: the greeting
    let greeted = false;
    let settled = false;
    let child: ReturnType<typeof spawn> | undefined;
    const finish = (r: AskResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      pin.fill(0);
      pending.fill(0);
      try {
        child?.stdin?.end('BYE\n');
      } catch {
        // the program is gone already
      }
      setTimeout(() => child?.kill('SIGTERM'), 1000).unref();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'cancelled', reason: `${program} got no answer within ${Math.round(timeoutMs / 1000)} s` }), timeoutMs + 2000);
    try {
      child = spawn(program, opts.ttyname ? ['--ttyname', opts.ttyname] : [], { stdio: ['pipe', 'pipe', 'ignore'], env });
    } catch (err) {
      finish({ kind: 'unavailable', reason: `cannot run ${program}: ${(err as Error).message}` });
      return;
    }
    const proc = child;
    proc.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'unavailable', reason: `cannot run ${program} (${err.code ?? err.message})` }));
    proc.stdin!.on('error', () => {}); // EPIPE when it dies first: reported by 'close'
    proc.on('close', (code) => finish({ kind: 'unavailable', reason: `${program} ended (exit status ${code}) before giving a PIN` }));
    const send = () => {
      if (next < commands.length) proc.stdin!.write(`${commands[next]}\n`);
    };
    const onLine = (line: Buffer) => {
      if (line.length >= 2 && line[0] === 0x44 && line[1] === 0x20) {
        // "D " data line: only GETPIN sends one here.
        pinLength = percentDecodeInto(line, 2, pin, pinLength);
        return;
      }
      const text = line.toString('latin1');
      if (text.startsWith('#') || text.startsWith('S ')) return;
      if (text === 'OK' || text.startsWith('OK ')) {
        if (!greeted) greeted = true;
        else if (commands[next++] === 'GETPIN') {
          const out = Buffer.alloc(pinLength);
          pin.copy(out, 0, 0, pinLength);
          return finish(out.length > 0 ? { kind: 'pin', pin: out } : { kind: 'cancelled', reason: 'an empty PIN was entered' });
        }
        return send();
      }
      if (text.startsWith('ERR ')) {
        const code = Number.parseInt(text.slice(4), 10) & 0xffff;
        const what = commands[next]?.split(' ')[0] ?? 'greeting';
        if (what === 'OPTION' || what === 'SETTIMEOUT' || what === 'SETERROR') {
          // Older pinentries lack some options; the dialog works without them.
          next++;
          return send();
        }
        if (code === GPG_ERR_CANCELED || code === GPG_ERR_TIMEOUT) return finish({ kind: 'cancelled', reason: `${program}: ${text.slice(4).replace(/^\d+\s*/, '')}` });
        return finish({ kind: 'unavailable', reason: `${program} answered ${what} with: ${text.slice(4).replace(/^\d+\s*/, '')}` });
      }
      if (text.startsWith('INQUIRE')) proc.stdin!.write('CAN\n');
    };
    proc.stdout!.on('data', (chunk: Buffer) => {
      const joined = Buffer.concat([pending, chunk]);
      pending.fill(0);
      chunk.fill(0);
      let start = 0;
      for (let nl = joined.indexOf(0x0a); nl >= 0; nl = joined.indexOf(0x0a, start)) {
        onLine(joined.subarray(start, nl));
        start = nl + 1;
        if (settled) break;
      }
      pending = Buffer.from(joined.subarray(start));
      joined.fill(0);
      if (pending.length > MAX_LINE) finish({ kind: 'unavailable', reason: `${program} sent a line longer than ${MAX_LINE} bytes` });
    });
  });
}

function findOnPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar || '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    const full = path.join(dir, name);
    try {
      fs.accessSync(full, fs.constants.X_OK);
      return full;
    } catch {
      // not here
    }
  }
  return undefined;
}
