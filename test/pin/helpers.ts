// Shared pieces of the PIN tests: a real SSH_ASKPASS program (a shell script that logs the
// prompt it was given and prints a PIN), a temp dir, and a clock the test moves by hand.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'tt-pin-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An askpass program: appends argv[1] to `log`, prints the PIN from its env, exits as told. */
export function writeAskpass(dir: string): { program: string; log: string; prompts: () => string[] } {
  const program = path.join(dir, 'askpass.sh');
  const log = path.join(dir, 'askpass.log');
  fs.writeFileSync(
    program,
    '#!/bin/sh\nprintf "%s\\n" "$1" >> "$ASKPASS_LOG"\n[ -n "$ASKPASS_SLEEP" ] && sleep "$ASKPASS_SLEEP"\nprintf "%s\\n" "$ASKPASS_PIN"\nexit "${ASKPASS_EXIT:-0}"\n',
    { mode: 0o755 },
  );
  return {
    program,
    log,
    prompts: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
  };
}

/** The environment an agent would have, without the test runner's display or askpass settings. */
export function baseEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['DISPLAY', 'WAYLAND_DISPLAY', 'SSH_ASKPASS', 'SSH_ASKPASS_REQUIRE', 'GPG_TTY', 'TT_AGENT_PINENTRY']) delete env[k];
  return { ...env, ...extra };
}

export class ManualClock {
  t = 1_000_000;
  now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}
