// A request the agent declines. The client only ever sees SSH_AGENT_FAILURE; the message
// goes to the log, so it must say exactly why (and never contain a PIN or passphrase). The
// hint (src/hint.ts), when there is one, goes to the log too, and to `tt-agent add`.
import type { Hinted } from '../hint';
import type { LogLevel } from './log';

export class AgentRefusal extends Error implements Partial<Hinted> {
  constructor(
    message: string,
    readonly level: LogLevel = 'warn',
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'AgentRefusal';
  }
}

/** A log line's reason and, when there is one, what to do next (src/hint.ts), as one line. */
export function withHint(reason: string, hint: string | undefined): string {
  return hint ? `${reason.replace(/\.$/, '')}. ${hint}` : reason;
}

/** One line for the log, with the PKCS#11 return value name when a provider gives one. */
export function describeError(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { ckr?: unknown; message?: unknown; fn?: unknown };
    const msg = typeof e.message === 'string' ? e.message : String(err);
    if (typeof e.ckr === 'string' && !msg.includes(e.ckr)) {
      return `${typeof e.fn === 'string' ? `${e.fn}: ` : ''}${e.ckr} (${msg})`;
    }
    return msg;
  }
  return String(err);
}
