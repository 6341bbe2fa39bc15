// The installed pinentry programs (pinentry-tty, pinentry-curses) on a real terminal (tmux):
// our Assuan client drives them, the PIN is typed with send-keys and never shown.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { tempDir } from './helpers';
import { haveTmux, Tmux } from './tmux';

for (const name of ['pinentry-tty', 'pinentry-curses']) {
  const program = `/usr/bin/${name}`;
  const skip = !haveTmux() ? 'tmux not installed' : !fs.existsSync(program) ? `${name} not installed (apt-get install ${name})` : false;
  test(`${name}: asks on the terminal, returns the typed PIN`, { skip, timeout: 60_000 }, async (t) => {
    const dir = tempDir(t);
    const out = path.join(dir, 'result.json');
    const tmux = new Tmux(dir);
    t.after(() => tmux.kill());
    const runner = path.join(__dirname, 'pinentry-run.ts');
    tmux.start(`cd '${path.join(__dirname, '..', '..')}' && GPG_TTY=$(tty) '${process.execPath}' --import tsx '${runner}'`, {
      PINENTRY: program,
      PIN_OUT: out,
      TERM: 'xterm',
    });
    await tmux.waitFor(/piv card/);
    await tmux.waitFor(/PIN:/);
    tmux.type('73%19');
    tmux.keys('Enter');
    const end = Date.now() + 20_000;
    while (!fs.existsSync(out) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    const screen = tmux.screen();
    assert.ok(fs.existsSync(out), `no result; screen:\n${screen}`);
    assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')), { kind: 'pin', pin: '73%19' });
    assert.ok(!screen.includes('73%19'), `PIN echoed:\n${screen}`);
  });
}
