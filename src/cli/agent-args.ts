// The agent's own flags, parsed by hand as ssh-agent parses them: yargs is not loaded on the
// path every new shell takes. Bundled short flags (-sD), values attached or separate (-a X, -aX).
import { resolve } from 'node:path';
import { parseLifetime } from '../agent/lifetime';
import { UserError } from './user-error';

export type Shell = 'sh' | 'csh' | 'fish';

export interface AgentArgs {
  shell?: Shell;
  socketPath?: string;
  foreground: boolean;
  debug: boolean;
  kill: boolean;
  lifetime?: number;
  allowlist?: string;
  allowRemoteModules?: boolean;
  notes: string[];
  command: string[];
}

export const USAGE =
  'usage: tt-agent [-c | -s] [-Dd] [-a bind_address] [-P allowed_providers] [-t life]\n' +
  '       tt-agent [-c | -s] -k\n' +
  '       tt-agent <command> ...   (tt-agent --help lists the commands)';

/** Environment a background agent gets from the starter: its private directory to remove on exit. */
export const DISPOSABLE_DIR_ENV = 'TT_AGENT_DISPOSABLE_DIR';

/** File descriptor 3 when systemd passed us a listening socket (sd_listen_fds(3)). */
export function systemdSocket(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (env.LISTEN_PID !== String(process.pid)) return undefined;
  return Number(env.LISTEN_FDS) >= 1 ? 3 : undefined;
}

const WITH_VALUE = new Set(['a', 'E', 'O', 'P', 't']);

export function parseAgentArgs(argv: string[]): AgentArgs {
  const a: AgentArgs = { foreground: false, debug: false, kill: false, notes: [], command: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.startsWith('--')) throw usage(`unknown option ${arg.split('=')[0]}`);
    if (!arg.startsWith('-') || arg === '-') break;
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j];
      let value: string | undefined;
      if (WITH_VALUE.has(flag)) {
        value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i];
        if (value === undefined) throw usage(`option -${flag} needs a value`);
        j = arg.length;
      }
      applyFlag(a, flag, value);
    }
  }
  a.command = argv.slice(i);
  if (a.kill && a.foreground) throw usage('-k cannot be combined with -D or -d');
  return a;
}

function applyFlag(a: AgentArgs, flag: string, value: string | undefined): void {
  switch (flag) {
    case 'c':
      a.shell = 'csh';
      return;
    case 's':
      a.shell = 'sh';
      return;
    case 'D':
      a.foreground = true;
      return;
    case 'd':
      a.foreground = true;
      a.debug = true;
      return;
    case 'k':
      a.kill = true;
      return;
    case 'a':
      a.socketPath = socketPathArg(value!);
      return;
    case 'P':
      a.allowlist = value;
      return;
    case 't':
      a.lifetime = lifetimeArg(value!);
      return;
    case 'E':
      a.notes.push(`-E ${value} ignored: the log always shows SHA256 fingerprints.`);
      return;
    case 'O':
      // ssh-agent's name for letting forwarded connections load modules (off since CVE-2023-38408).
      if (value === 'allow-remote-pkcs11') a.allowRemoteModules = true;
      else a.notes.push(`-O ${value} ignored: tt-agent has no such option.`);
      return;
    default:
      throw usage(`unknown option -${flag}`);
  }
}

function socketPathArg(text: string): string {
  // The path goes into shell code that every shell evaluates; a control character there
  // (a newline above all) cannot be quoted for csh.
  if (text === '' || /[\x00-\x1f\x7f]/.test(text)) throw usage('-a needs a socket path without control characters');
  return resolve(text);
}

function lifetimeArg(text: string): number {
  const seconds = parseLifetime(text);
  if (seconds === undefined) {
    throw new UserError(`invalid lifetime "${text}".`, 'Give seconds or a time like 90, 10m, 1h30m, 2d (at most 2147483647 s).', 2);
  }
  return seconds;
}

export function usage(what: string): UserError {
  return new UserError(what, USAGE, 2);
}

export function shellFromEnv(shell: string | undefined): Shell {
  if (shell?.endsWith('fish')) return 'fish';
  if (shell?.endsWith('csh')) return 'csh';
  return 'sh';
}
