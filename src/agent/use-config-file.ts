// Where the key-use configuration lives and how the running agent follows edits to it: read
// at start (a bad file stops the start, naming each bad line), then looked at again (one
// stat) before each use; a changed file is parsed anew, and a broken edit is logged and the
// last good configuration kept.
import { readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AgentLog } from './log';
import { emptyUseConfig, parseUseConfig, UseConfigError, type UseConfig } from './use-config';

/** $XDG_CONFIG_HOME/tt-agent/config, else ~/.config/tt-agent/config. */
export function defaultUseConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(base, 'tt-agent', 'config');
}

export class UseConfigSource {
  private config: UseConfig;
  private stamp: string;

  /** Throws UseConfigError for a file with bad lines; a missing file is an empty configuration. */
  constructor(
    readonly file: string | null,
    private readonly log: AgentLog,
  ) {
    this.stamp = this.stampNow();
    this.config = this.read();
  }

  current(): UseConfig {
    const stamp = this.stampNow();
    if (stamp === this.stamp) return this.config;
    this.stamp = stamp;
    try {
      this.config = this.read();
      this.log('info', `configuration ${this.file} reloaded`);
    } catch (err) {
      const what = err instanceof UseConfigError ? err.problems.join('\n') : (err as Error).message;
      this.log('error', `configuration ${this.file} not reloaded, the previous one stays in force:\n${what}`);
    }
    return this.config;
  }

  private stampNow(): string {
    if (!this.file) return '';
    try {
      // No exception for a missing file: this runs on every signature.
      const st = statSync(this.file, { bigint: true, throwIfNoEntry: false });
      return st ? `${st.ino}:${st.size}:${st.mtimeNs}` : 'missing';
    } catch {
      return 'unreadable';
    }
  }

  private read(): UseConfig {
    if (!this.file) return emptyUseConfig();
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return emptyUseConfig(this.file);
      throw new UseConfigError([`${this.file}: cannot read it (${code ?? (err as Error).message})`]);
    }
    return parseUseConfig(text, this.file);
  }
}
