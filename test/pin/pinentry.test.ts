// pinentry over Assuan, with a deliberately small pinentry written in sh (greets, answers
// OK, logs what it was told, sends the PIN as a percent-escaped D line).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { PinBroker } from '../../src/pin/broker';
import { assuanEscape, runPinentry } from '../../src/pin/pinentry';
import { baseEnv, tempDir } from './helpers';

const FAKE_PINENTRY = `#!/bin/sh
echo "OK Pleased to meet you"
while IFS= read -r line; do
  printf '%s\\n' "$line" >> "$PINENTRY_LOG"
  case "$line" in
    GETPIN)
      if [ -n "$PINENTRY_CANCEL" ]; then echo "ERR 83886179 Operation cancelled <Pinentry>"
      else echo "# a comment line"; echo "S PASSWORD_FROMCACHE"; echo "D $PINENTRY_D"; echo "OK"; fi ;;
    BYE) echo "OK closing connection"; exit 0 ;;
    SETTIMEOUT*) echo "ERR 536871187 Unknown command <User defined source 1>" ;;
    *) echo "OK" ;;
  esac
done
`;

function fake(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
  const program = path.join(dir, 'pinentry.sh');
  fs.writeFileSync(program, FAKE_PINENTRY, { mode: 0o755 });
  const log = path.join(dir, 'pinentry.log');
  return { program, log, said: () => fs.readFileSync(log, 'utf8') };
}

test('Assuan: the D line is percent-decoded into bytes; unknown commands are skipped', async (t) => {
  const p = fake(t);
  const env = baseEnv({ PINENTRY_LOG: p.log, PINENTRY_D: 'pa%25%20s%C3%A9' });
  const r = await runPinentry(p.program, { title: 'T', description: 'line one\nline two 100%', prompt: 'PIN:' }, { env, ttyname: '/dev/pts/99' });
  assert.equal(r.kind, 'pin');
  assert.equal((r as { pin: Buffer }).pin.toString('utf8'), 'pa% sé');
  // The PIN is ours as soon as the D line and OK arrive; BYE reaches the fake pinentry's log
  // a moment later: wait for it rather than read the log at once.
  const until = Date.now() + 5000;
  while (!/^BYE$/m.test(p.said()) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  const said = p.said();
  assert.match(said, /^OPTION ttyname=\/dev\/pts\/99$/m);
  assert.match(said, /^SETDESC line one%0Aline two 100%25$/m);
  assert.match(said, /^GETPIN$/m);
  assert.match(said, /^BYE$/m);
});

test('Assuan: a cancel is a cancel', async (t) => {
  const p = fake(t);
  const env = baseEnv({ PINENTRY_LOG: p.log, PINENTRY_CANCEL: '1' });
  const r = await runPinentry(p.program, { title: 'T', description: 'D', prompt: 'PIN:' }, { env, ttyname: '/dev/pts/99' });
  assert.equal(r.kind, 'cancelled');
});

test('assuanEscape escapes %, CR and LF only', () => {
  assert.equal(assuanEscape('a%b\r\nc d'), 'a%25b%0D%0Ac d');
});

test('the broker falls back to pinentry without askpass, and warns of the final try there', async (t) => {
  const p = fake(t);
  const env = baseEnv({ PINENTRY_LOG: p.log, PINENTRY_D: '97531', GPG_TTY: '/dev/pts/98' });
  const broker = new PinBroker({ askpass: { env }, pinentry: { program: p.program, env }, unlockWaitMs: 0 });
  t.after(() => broker.close());
  const pin = await broker.getPin({ label: 'piv card', serial: '42' }, { triesLeft: 'final' });
  assert.equal(pin?.toString(), '97531');
  const said = p.said();
  assert.match(said, /^SETDESC .*"piv card" \(serial 42\).*%0ALAST TRY: a wrong PIN locks the token$/m);
  assert.match(said, /^SETERROR LAST TRY: a wrong PIN locks the token$/m);
});

test('a cancelled pinentry does not fall through to waiting for tt-agent unlock', async (t) => {
  const p = fake(t);
  const env = baseEnv({ PINENTRY_LOG: p.log, PINENTRY_CANCEL: '1', GPG_TTY: '/dev/pts/98' });
  const broker = new PinBroker({ askpass: { env }, pinentry: { program: p.program, env }, unlockWaitMs: 60_000 });
  t.after(() => broker.close());
  const started = Date.now();
  assert.equal(await broker.getPin({ label: 'x', serial: '1' }), null);
  assert.ok(Date.now() - started < 5000);
});
