// What `eval $(tt-agent)` and `tt-agent -k` print: shell code setting or clearing
// SSH_AUTH_SOCK and SSH_AGENT_PID, for sh (and bash, zsh), csh (tcsh) and fish. Values are
// quoted for the shell that evaluates them: a socket path with a space or a quote works.
import type { Shell } from './agent-args';

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `v` as one word of `shell`. Control characters are refused earlier (agent-args). */
export function shellQuote(v: string, shell: Shell): string {
  if (PLAIN.test(v)) return v;
  switch (shell) {
    case 'fish':
      // Inside fish's single quotes only \\ and \' are escapes.
      return `'${v.replace(/[\\']/g, '\\$&')}'`;
    case 'csh':
      // csh expands ! even inside single quotes: close the quote, escape it, reopen.
      return `'${v.replace(/'/g, `'\\''`).replace(/!/g, `'\\!'`)}'`;
    case 'sh':
      return `'${v.replace(/'/g, `'\\''`)}'`;
  }
}

function setVar(shell: Shell, name: string, value: string): string {
  const v = shellQuote(value, shell);
  switch (shell) {
    case 'csh':
      return `setenv ${name} ${v};\n`;
    case 'fish':
      return `set -x ${name} ${v};\n`;
    case 'sh':
      return `${name}=${v}; export ${name};\n`;
  }
}

function unsetVar(shell: Shell, name: string): string {
  switch (shell) {
    case 'csh':
      return `unsetenv ${name};\n`;
    case 'fish':
      return `set -e ${name};\n`;
    case 'sh':
      return `unset ${name};\n`;
  }
}

/**
 * The environment of an agent at `socketPath`. `pid` is left out (and SSH_AGENT_PID
 * cleared) when the process listening there is not known to be the agent itself, as under
 * socket activation, where systemd holds the socket.
 */
export function envLines(shell: Shell, socketPath: string, pid: number | undefined): string {
  let out = setVar(shell, 'SSH_AUTH_SOCK', socketPath);
  if (pid === undefined) return out + unsetVar(shell, 'SSH_AGENT_PID');
  out += setVar(shell, 'SSH_AGENT_PID', String(pid));
  return `${out}echo Agent pid ${pid};\n`;
}

/** What `tt-agent -k` prints after the agent is gone. */
export function unsetLines(shell: Shell, pid: number): string {
  return `${unsetVar(shell, 'SSH_AUTH_SOCK')}${unsetVar(shell, 'SSH_AGENT_PID')}echo Agent pid ${pid} killed;\n`;
}
