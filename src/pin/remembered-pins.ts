// The OS keyring as the broker uses it: PINs the user asked to remember (`tt-agent unlock
// --remember`), each read, write and removal said in the log, never the PIN itself.
import type { KeyringStore } from './keyring';
import { describeToken, type TokenRef } from './token-ref';

/** A keyring, none, or a way to open one on first use (the agent's start does not wait for D-Bus). */
export type KeyringSource = KeyringStore | null | (() => Promise<KeyringStore | null>);

export class RememberedPins {
  private opened?: Promise<KeyringStore | null>;

  constructor(
    private readonly source: KeyringSource,
    private readonly log: (line: string) => void,
  ) {}

  private keyring(): Promise<KeyringStore | null> {
    if (!this.opened) this.opened = typeof this.source === 'function' ? this.source().catch(() => null) : Promise.resolve(this.source);
    return this.opened;
  }

  /** The remembered PIN (the caller owns it), or null. */
  async get(token: TokenRef): Promise<Buffer | null> {
    const keyring = await this.keyring();
    const stored = keyring ? await keyring.get(token) : null;
    if (stored) this.log(`using the remembered PIN of token ${describeToken(token)} from the OS keyring`);
    return stored;
  }

  /** Stores a copy of `pin`. False: no keyring. */
  async set(token: TokenRef, pin: Buffer): Promise<boolean> {
    const keyring = await this.keyring();
    if (!keyring) {
      this.log(`cannot remember the PIN of token ${describeToken(token)}: no OS keyring available`);
      return false;
    }
    await keyring.set(token, pin);
    this.log(`remembered the PIN of token ${describeToken(token)} in the OS keyring`);
    return true;
  }

  /** True when a remembered PIN was removed. */
  async delete(token: TokenRef): Promise<boolean> {
    const keyring = await this.keyring();
    if (!keyring) return false;
    try {
      if (!(await keyring.delete(token))) return false;
      this.log(`removed the remembered PIN of token ${describeToken(token)} from the OS keyring`);
      return true;
    } catch (err) {
      this.log(`${(err as Error).message}; remove it by hand (secret-tool clear service tt-agent)`);
      return false;
    }
  }

  /** The tokens with a remembered PIN; none when the keyring cannot say. */
  async list(): Promise<TokenRef[]> {
    const keyring = await this.keyring();
    if (!keyring) return [];
    try {
      return await keyring.list();
    } catch (err) {
      this.log((err as Error).message);
      return [];
    }
  }
}
