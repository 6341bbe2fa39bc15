// PINs held in memory, per token, for a limited time. Every Buffer the cache lets go of is
// zeroed first: a dropped PIN must not linger in the heap until the collector runs.
// While the agent is locked (ssh-add -x) the PINs are sealed: encrypted with AES-256-GCM under
// a key derived from the lock passphrase, the plaintext zeroed, and nothing handed out until
// the same key unseals them.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export type PinOrigin = 'prompt' | 'unlock' | 'keyring' | 'add';

interface Sealed {
  iv: Buffer;
  tag: Buffer;
  data: Buffer;
}

interface Entry {
  /** null while sealed. */
  pin: Buffer | null;
  sealed?: Sealed;
  source: PinOrigin;
  storedAt: number;
  timer?: NodeJS.Timeout;
}

const SEAL_KEY_BYTES = 32;
const IV_BYTES = 12;

export class PinCache {
  private readonly entries = new Map<string, Entry>();
  private sealedNow = false;

  constructor(
    /** Milliseconds a PIN is kept after it was stored; Infinity keeps it until dropped. */
    private readonly lifetimeMs: number,
    private readonly now: () => number,
  ) {}

  get sealed(): boolean {
    return this.sealedNow;
  }

  /**
   * Takes ownership of `pin` (the caller must not reuse it: it is zeroed when dropped).
   * A real timer also drops it at expiry, so an idle agent does not keep it in memory.
   * While sealed nothing new is kept: false, and `pin` is zeroed.
   */
  put(key: string, pin: Buffer, source: PinOrigin): boolean {
    if (this.sealedNow) {
      pin.fill(0);
      return false;
    }
    this.drop(key);
    const entry: Entry = { pin, source, storedAt: this.now() };
    if (Number.isFinite(this.lifetimeMs)) {
      entry.timer = setTimeout(() => {
        if (this.entries.get(key) === entry) this.drop(key);
      }, Math.max(0, this.lifetimeMs));
      entry.timer.unref();
    }
    this.entries.set(key, entry);
    return true;
  }

  /** A copy of the PIN (the caller zeroes it after use), or null when absent, expired or sealed. */
  get(key: string): { pin: Buffer; source: PinOrigin } | null {
    if (!this.has(key) || this.sealedNow) return null;
    const entry = this.entries.get(key)!;
    return { pin: Buffer.from(entry.pin!), source: entry.source };
  }

  /** Whether `pin` is the one kept for `key` (false while sealed). */
  holds(key: string, pin: Buffer): boolean {
    const kept = this.get(key);
    if (!kept) return false;
    const same = kept.pin.equals(pin);
    kept.pin.fill(0);
    return same;
  }

  has(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    if (this.now() - entry.storedAt < this.lifetimeMs) return true;
    this.drop(key);
    return false;
  }

  drop(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    entry.pin?.fill(0);
    entry.sealed?.data.fill(0);
    if (entry.timer) clearTimeout(entry.timer);
    this.entries.delete(key);
    return true;
  }

  dropAll(): number {
    const n = this.entries.size;
    for (const key of [...this.entries.keys()]) this.drop(key);
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Encrypts every kept PIN under `sealKey` and zeroes the plaintext. False when already sealed. */
  seal(sealKey: Buffer): boolean {
    checkKey(sealKey);
    if (this.sealedNow) return false;
    for (const [key, entry] of this.entries) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', sealKey, iv).setAAD(Buffer.from(key, 'utf8'));
      const data = Buffer.concat([cipher.update(entry.pin!), cipher.final()]);
      entry.sealed = { iv, tag: cipher.getAuthTag(), data };
      entry.pin!.fill(0);
      entry.pin = null;
    }
    this.sealedNow = true;
    return true;
  }

  /** Decrypts every PIN with `sealKey`. A wrong key: false, and every sealed PIN stays as it was. */
  unseal(sealKey: Buffer): boolean {
    checkKey(sealKey);
    if (!this.sealedNow) return true;
    const opened = new Map<Entry, Buffer>();
    try {
      for (const [key, entry] of this.entries) {
        const s = entry.sealed!;
        const decipher = createDecipheriv('aes-256-gcm', sealKey, s.iv).setAAD(Buffer.from(key, 'utf8')).setAuthTag(s.tag);
        opened.set(entry, Buffer.concat([decipher.update(s.data), decipher.final()]));
      }
    } catch {
      for (const pin of opened.values()) pin.fill(0);
      return false;
    }
    for (const [entry, pin] of opened) {
      entry.pin = pin;
      entry.sealed!.data.fill(0);
      entry.sealed = undefined;
    }
    this.sealedNow = false;
    return true;
  }
}

function checkKey(k: Buffer): void {
  if (k.length !== SEAL_KEY_BYTES) throw new RangeError(`the sealing key must be ${SEAL_KEY_BYTES} bytes, not ${k.length}`);
}
