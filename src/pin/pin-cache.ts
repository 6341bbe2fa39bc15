// PINs held in memory, per token, for a limited time. Every Buffer the cache lets go of is
// zeroed first: a dropped PIN must not linger in the heap until the collector runs.

export type PinSource = 'prompt' | 'unlock' | 'keyring' | 'add';

interface Entry {
  pin: Buffer;
  source: PinSource;
  storedAt: number;
  timer?: NodeJS.Timeout;
}

export class PinCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    /** Milliseconds a PIN is kept after it was stored; Infinity keeps it until dropped. */
    private readonly lifetimeMs: number,
    private readonly now: () => number,
  ) {}

  /**
   * Takes ownership of `pin` (the caller must not reuse it: it is zeroed when dropped).
   * A real timer also drops it at expiry, so an idle agent does not keep it in memory.
   */
  put(key: string, pin: Buffer, source: PinSource): void {
    this.drop(key);
    const entry: Entry = { pin, source, storedAt: this.now() };
    if (Number.isFinite(this.lifetimeMs)) {
      entry.timer = setTimeout(() => {
        if (this.entries.get(key) === entry) this.drop(key);
      }, Math.max(0, this.lifetimeMs));
      entry.timer.unref();
    }
    this.entries.set(key, entry);
  }

  /** A copy of the PIN (the caller zeroes it after use), or null when absent or expired. */
  get(key: string): { pin: Buffer; source: PinSource } | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (this.now() - entry.storedAt >= this.lifetimeMs) {
      this.drop(key);
      return null;
    }
    return { pin: Buffer.from(entry.pin), source: entry.source };
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
    entry.pin.fill(0);
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
}
