// A private tmux server for terminal tests: type with send-keys, read with capture-pane.
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';

export function haveTmux(): boolean {
  return spawnSync('sh', ['-c', 'command -v tmux']).status === 0;
}

export class Tmux {
  private readonly socket: string;
  private serverPid = 0;
  constructor(dir: string) {
    this.socket = path.join(dir, 'tmux.sock');
  }

  start(command: string, env: Record<string, string>): void {
    const exports = Object.entries(env)
      .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}';`)
      .join(' ');
    execFileSync('tmux', ['-S', this.socket, '-f', '/dev/null', 'new-session', '-d', '-x', '150', '-y', '40', `${exports} ${command}; echo EXIT=$?; sleep 60`]);
    // Kept so kill() works even after the temp dir holding the socket is gone.
    this.serverPid = Number(execFileSync('tmux', ['-S', this.socket, 'display-message', '-p', '#{pid}'], { encoding: 'utf8' }).trim());
  }

  keys(...keys: string[]): void {
    execFileSync('tmux', ['-S', this.socket, 'send-keys', '-t', '0', ...keys]);
  }

  /** Literal text, no key-name lookup. */
  type(text: string): void {
    execFileSync('tmux', ['-S', this.socket, 'send-keys', '-t', '0', '-l', text]);
  }

  screen(): string {
    return execFileSync('tmux', ['-S', this.socket, 'capture-pane', '-p', '-t', '0', '-S', '-100'], { encoding: 'utf8' });
  }

  async waitFor(re: RegExp, timeoutMs = 20_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      if (re.test(s)) return s;
      if (Date.now() > end) throw new Error(`screen never matched ${re}:\n${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  kill(): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-server']);
    if (this.serverPid > 0) {
      try {
        process.kill(this.serverPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}
