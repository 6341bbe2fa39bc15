// Runs inside a tmux pane: asks through a real pinentry on this pane's terminal and writes
// the outcome to $PIN_OUT (the test's PIN is not a secret).
import * as fs from 'node:fs';
import { runPinentry } from '../../src/pin/pinentry';

runPinentry(
  process.env.PINENTRY!,
  { title: 'tt-agent', description: 'tt-agent needs the PIN of token "piv card" (serial 42).\nLAST TRY: a wrong PIN locks the token', prompt: 'PIN:' },
  { ttyname: process.env.GPG_TTY, timeoutMs: 30_000 },
).then((r) => {
  fs.writeFileSync(process.env.PIN_OUT!, JSON.stringify(r.kind === 'pin' ? { kind: r.kind, pin: r.pin.toString('utf8') } : r));
});
