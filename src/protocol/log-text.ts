// Text that came from a peer (a client's module name, a module host's log line or token
// label) on its way into the agent's log: a CR or LF there must not forge a log line, and an
// escape sequence must not reach a terminal. Pure: no I/O.

/**
 * Every C0 control character and DEL as \xNN; every C1 control (a terminal may act on U+009B
 * as on ESC [) and every bidirectional override or isolate (text that reads otherwise than it
 * is) as \uNNNN; everything else as it was.
 */
export function escapeLogText(text: string): string {
  return text
    .replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
