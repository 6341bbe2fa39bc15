// The compiled CLI's --help, parsed into the options it lists: what a user sees is what the
// manual page is checked against.
import { execFile } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const BIN = path.join(ROOT, 'bin/tt-agent');

export interface HelpOption {
  /** "--days" */
  long: string;
  /** "-t", when yargs lists a one-letter alias */
  short?: string;
  type?: 'boolean' | 'string' | 'number';
  /** The `[default: ...]` value, quotes removed. */
  default?: string;
  choices: string[];
  /** Everything yargs printed for the option, joined to one line. */
  text: string;
}

/** Options every command shows because they are global; documented once, not per command. */
export const GLOBAL_OPTIONS = ['--debug', '--help', '--version'];

export function runHelp(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args, '--help'],
      // stdout is a pipe, so yargs wraps at its fixed 100 columns; parseHelpOptions joins the lines.
      { env: { ...process.env, SSH_AUTH_SOCK: '' }, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`tt-agent ${args.join(' ')} --help failed: ${stderr || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** The entries of the "Options:" block of a yargs help text. */
export function parseHelpOptions(help: string): HelpOption[] {
  const lines = help.split('\n');
  const start = lines.findIndex((l) => /^Options:\s*$/.test(l));
  if (start < 0) return [];
  const entries: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '' || /^\S/.test(line)) break; // blank line or the next block ("Examples:")
    if (/^\s{2,8}(-\w, )?--[\w-]+/.test(line)) entries.push(line.trim());
    else if (entries.length > 0) entries[entries.length - 1] += ` ${line.trim()}`;
  }
  return entries.map((text) => {
    const m = /^(?:(-\w), )?(--[\w-]+)/.exec(text)!;
    const type = /\[(boolean|string|number)\]/.exec(text)?.[1] as HelpOption['type'];
    const def = /\[default: ([^\]]+)\]/.exec(text)?.[1]?.replace(/^"(.*)"$/, '$1');
    const choices = [...(/\[choices: ([^\]]+)\]/.exec(text)?.[1]?.matchAll(/"([^"]+)"/g) ?? [])].map((c) => c[1]);
    return { long: m[2], short: m[1], type, default: def, choices, text };
  });
}

/** Command names in the top-level help's "Commands:" block. */
export function parseHelpCommands(help: string): string[] {
  return [...help.matchAll(/^\s+tt-agent ([\w-]+)/gm)].map((m) => m[1]);
}
