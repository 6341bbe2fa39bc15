// The running agent's log: one line per event on stderr, which is a file (background agent),
// the terminal (-d) or the journal (systemd). The journal wants sd-daemon(3) priority
// prefixes instead of timestamps; it says so by setting JOURNAL_STREAM.
import type { AgentLog } from '../agent/log';
import { escapeLogText } from '../protocol/log-text';

const PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };

export function stderrLog(debug: boolean, env: NodeJS.ProcessEnv = process.env): AgentLog {
  const journal = env.JOURNAL_STREAM !== undefined;
  return (level, message) => {
    if (level === 'debug' && !debug) return;
    // Messages quote what clients and modules sent; a CR or LF there must not forge a log line.
    message = escapeLogText(message);
    const line = journal
      ? `<${PRIORITY[level]}>${message}`
      : `${new Date().toISOString()} tt-agent[${process.pid}]: ${level}: ${message}`;
    process.stderr.write(`${line}\n`);
  };
}
