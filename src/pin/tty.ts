// Reading a PIN from the controlling terminal without echo. /dev/tty rather than stdin, so a
// command whose stdin is a pipe or a file still asks the person at the keyboard. The PIN is
// gathered as bytes in one fixed Buffer (never a JS string, which cannot be wiped) and every
// input chunk is zeroed once copied.
import * as fs from 'node:fs';
import * as tty from 'node:tty';

export class NoTerminalError extends Error {
  constructor() {
    super('no terminal to ask for the PIN on');
    this.name = 'NoTerminalError';
  }
}

export class PinEntryCancelled extends Error {
  constructor() {
    super('PIN entry cancelled');
    this.name = 'PinEntryCancelled';
  }
}

/** Longest PIN accepted; PKCS#11 tokens report ulMaxPinLen, rarely above 64. */
const MAX_PIN_BYTES = 256;

const CR = 0x0d;
const LF = 0x0a;
const ETX = 0x03; // Ctrl-C
const EOT = 0x04; // Ctrl-D
const BS = 0x08;
const NAK = 0x15; // Ctrl-U: kill line
const ETB = 0x17; // Ctrl-W: treated as kill line too (a PIN has no words)
const DEL = 0x7f;

/** Whether a person can be asked: a controlling terminal exists. */
export function haveTerminal(): boolean {
  try {
    fs.closeSync(fs.openSync('/dev/tty', 'r+'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Prints `prompt` on the terminal and reads one line with echo off (raw mode). Backspace
 * removes one character (a whole UTF-8 sequence), Ctrl-U clears the line, Ctrl-C and
 * Ctrl-D on an empty line cancel, Enter ends. Returns the PIN as bytes; the caller zeroes it.
 */
export function readPinFromTty(prompt: string): Promise<Buffer> {
  let fd: number;
  try {
    fd = fs.openSync('/dev/tty', 'r+');
  } catch {
    return Promise.reject(new NoTerminalError());
  }
  const input = new tty.ReadStream(fd);
  const output = new tty.WriteStream(fd);
  return new Promise<Buffer>((resolve, reject) => {
    const buf = Buffer.alloc(MAX_PIN_BYTES);
    let len = 0;
    let done = false;
    const finish = (err?: Error) => {
      done = true;
      input.setRawMode(false);
      input.removeListener('data', onData);
      output.write('\n');
      input.destroy();
      output.destroy();
      if (err) {
        buf.fill(0);
        reject(err);
        return;
      }
      const pin = Buffer.alloc(len);
      buf.copy(pin, 0, 0, len);
      buf.fill(0);
      resolve(pin);
    };
    const onData = (chunk: Buffer) => {
      for (let i = 0; i < chunk.length && !done; i++) {
        const b = chunk[i];
        if (b === CR || b === LF) finish();
        else if (b === ETX || (b === EOT && len === 0)) finish(new PinEntryCancelled());
        else if (b === DEL || b === BS) {
          // Drop UTF-8 continuation bytes (10xxxxxx) and then the lead byte.
          while (len > 0 && (buf[len - 1] & 0xc0) === 0x80) len--;
          if (len > 0) len--;
        } else if (b === NAK || b === ETB) len = 0;
        else if (b === 0x1b) {
          // An escape sequence (arrow keys etc.): skip its introducer and final byte.
          i = skipEscape(chunk, i);
        } else if (b >= 0x20 && len < MAX_PIN_BYTES) buf[len++] = b;
      }
      chunk.fill(0);
    };
    output.write(prompt);
    input.setRawMode(true);
    input.on('data', onData);
  });
}

/** Index of the last byte of a CSI/SS3 sequence starting at `i` (ESC [ ... final, ESC O x). */
function skipEscape(chunk: Buffer, i: number): number {
  if (i + 1 >= chunk.length) return i;
  const kind = chunk[i + 1];
  if (kind === 0x4f) return Math.min(i + 2, chunk.length - 1);
  if (kind !== 0x5b) return i + 1;
  let j = i + 2;
  while (j < chunk.length && !(chunk[j] >= 0x40 && chunk[j] <= 0x7e)) j++;
  return Math.min(j, chunk.length - 1);
}
