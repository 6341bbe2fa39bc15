// The OS keyring as the broker uses it: PINs the user asked to remember (`tt-agent unlock
// --remember`), each read, write and removal said in the log, never the PIN itself.
import type { KeyringStore } from './keyring';
import { describeToken, type TokenRef } from './token-ref';

export class RememberedPins {
  constructor(
    private readonly keyring: KeyringStore | null,
    private readonly log: (line: string) => void,
  ) {}

  get available(): boolean {
    return this.keyring !== null;
  }

  /** The remembered PIN (the caller owns it), or null. */
  async get(token: TokenRef): Promise<Buffer | null> {
    const stored = this.keyring ? await this.keyring.get(token) : null;
    if (stored) this.log(`using the remembered PIN of token ${describeToken(token)} from the OS keyring`);
    return stored;
  }

  /** Stores a copy of `pin`. False: no keyring. */
  async set(token: TokenRef, pin: Buffer): Promise<boolean> {
    if (!this.keyring) {
      this.log(`cannot remember the PIN of token ${describeToken(token)}: no OS keyring available`);
      return false;
    }
    await this.keyring.set(token, pin);
    this.log(`remembered the PIN of token ${describeToken(token)} in the OS keyring`);
    return true;
  }

  /** True when a remembered PIN was removed. */
  async delete(token: TokenRef): Promise<boolean> {
    if (!this.keyring) return false;
    try {
      if (!(await this.keyring.delete(token))) return false;
      this.log(`removed the remembered PIN of token ${describeToken(token)} from the OS keyring`);
      return true;
    } catch (err) {
      this.log(`${(err as Error).message}; remove it by hand (secret-tool clear service tt-agent)`);
      return false;
    }
  }

  /** The tokens with a remembered PIN; none when the keyring cannot say. */
  async list(): Promise<TokenRef[]> {
    if (!this.keyring) return [];
    try {
      return await this.keyring.list();
    } catch (err) {
      this.log((err as Error).message);
      return [];
    }
  }
}
