// `tt-agent --help` and `tt-agent --version` without loading yargs, the command modules or
// any native code: both must work (and fast) even where pkcs11js or the addon did not build.
// The command lines mirror each command module's `command` and `describe`
// (test/cli/help-version.test.ts keeps them in step); `tt-agent COMMAND --help` is yargs'.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** name → [yargs command string, description], in the order the help lists them. */
export const COMMAND_SUMMARIES: Record<string, [string, string]> = {
  add: ['add [module]', "load a token's keys into the running agent (like ssh-add -s)"],
  remove: ['remove [module]', "remove a module's keys from the running agent (like ssh-add -e)"],
  list: ['list [module]', "list tokens and the keys on them; with no module and an agent running, the agent's keys"],
  pubkey: ['pubkey [module]', "print the token's public keys as authorized_keys lines"],
  keygen: ['keygen <module>', 'generate a key pair on the token and print its authorized_keys line'],
  selfsign: ['selfsign <module>', 'write a self-signed X.509 certificate for a key on the token, signed by the token'],
  'fix-ids': ['fix-ids <module>', 'give certificates and public keys the CKA_ID of their private key, and repair empty or shared IDs'],
  rng: ['rng [module]', "feed the token's hardware random generator into the kernel entropy pool"],
  unlock: ['unlock [token]', "type a token's PIN for the running agent (when it cannot show a PIN dialog)"],
  'forget-pin': ['forget-pin [token]', 'forget a remembered PIN: in the OS keyring and in the running agent'],
  status: ['status', 'show what the running agent holds and why it refuses: modules, tokens, PIN state, keys, errors'],
  setup: ['setup', 'install and enable the systemd user socket and service (the agent starts on first use), and print the profile line for your shell'],
};

// The flags of `tt-agent` with no command (src/cli/agent.ts parses them; man/tt-agent.1,
// "Agent options", describes them). Listed here so that --help loads nothing of the agent.
const AGENT_OPTIONS: [string, string][] = [
  ['-a SOCKET', 'listen on this unix socket path instead of $XDG_RUNTIME_DIR/tt-agent/agent.sock'],
  ['-c', 'print C-shell commands (default: the syntax of $SHELL: sh, csh or fish)'],
  ['-s', 'print Bourne shell commands'],
  ['-D', 'foreground: do not fork; log to standard error'],
  ['-d', 'debug: foreground, and log every request'],
  ['-k', 'kill the agent named by SSH_AGENT_PID and print the commands that unset its variables'],
  ['-P PATTERNS', 'comma-separated globs of the PKCS#11 modules the agent may load (their real paths)'],
  ['-t LIFE', 'default lifetime of added keys: seconds, or 90, 10m, 1h30m, 2d'],
  ['-E HASH, -O OPTION', "accepted for ssh-agent's sake and ignored (-O allow-remote-pkcs11 lets forwarded connections load modules)"],
];

const GLOBAL_OPTIONS: [string, string, string][] = [
  ['    ', '--debug', 'show stack traces and library detail on errors'],
  ['-h, ', '--help', 'Show help'],
  ['-V, ', '--version', 'Show version number'],
];

/** `text` wrapped to `width` columns, continuation lines indented by `indent`. */
function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

function table(rows: [string, string][], width: number): string {
  const col = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(col)}${wrap(right, col + 2, width)}`).join('\n');
}

export function topLevelHelp(width = Math.min(110, process.stdout.columns || 100)): string {
  const commands = Object.values(COMMAND_SUMMARIES).map(([cmd, describe]): [string, string] => [`tt-agent ${cmd}`, describe]);
  const options = GLOBAL_OPTIONS.map(([short, long, describe]): [string, string] => [`${short}${long}`, describe]);
  return [
    'tt-agent — an ssh-agent whose keys live on PKCS#11 tokens',
    '',
    'Usage:',
    '  eval $(tt-agent)            start the agent (or reuse the running one)',
    '  tt-agent <command> [options]',
    '',
    'Commands:',
    table(commands, width),
    '',
    'Options:',
    table(options, width),
    '',
    'Agent options (tt-agent with no command; as ssh-agent):',
    table(AGENT_OPTIONS, width),
    '',
    "A command's options: tt-agent COMMAND --help. All of them: man tt-agent.",
    '',
  ].join('\n');
}

/** The version in package.json, two directories above dist/cli/. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
