// Reading a PIN from the controlling terminal without echo. /dev/tty rather than stdin, so a
// command whose stdin is a pipe or a file still asks the person at the keyboard.
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
 * Prints `prompt` on the terminal and reads one line with echo off. Backspace edits, Ctrl-C
 * and Ctrl-D on an empty line cancel. The PIN is returned as UTF-8 bytes.
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
    const chars: string[] = [];
    const finish = (err?: Error) => {
      input.setRawMode(false);
      input.removeListener('data', onData);
      output.write('\n');
      input.destroy();
      output.destroy();
      if (err) reject(err);
      else resolve(Buffer.from(chars.join(''), 'utf8'));
      chars.fill('');
    };
    const onData = (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || (ch === '\u0004' && chars.length === 0)) return finish(new PinEntryCancelled());
        if (ch === '\u007f' || ch === '\b') chars.pop();
        else if (ch >= ' ') chars.push(ch);
      }
    };
    output.write(prompt);
    input.setRawMode(true);
    input.on('data', onData);
  });
}
