// What a module host must load again, and when. A replacement host replays every load of
// its module without a PIN (the first signature asks the broker). A host replaced while its
// token was out — the sign watchdog kills a host that hung on a card pulled mid-signature —
// finds nothing for that token, and no later event would load it: the presence watch only
// follows tokens a load found. So a signature naming a key that an earlier load of this
// module reported, but the host has not got, runs that load once more and is retried once.
// At most one such reload per load every RELOAD_INTERVAL_MS, the presence watch's pace while
// a token is out: a key that is really gone costs a slot scan now and then, not one per request.

/** Minimum time between two reloads of the same load. */
export const RELOAD_INTERVAL_MS = 250;

export class LoadReplay {
  /** The URIs loaded (undefined: every token of the module), in the order first loaded. */
  readonly uris: (string | undefined)[] = [];
  /** latin1 key blob → the URI of the load that reported it. */
  private readonly origins = new Map<string, string | undefined>();
  private readonly lastRun = new Map<string | undefined, number>();
  private readonly running = new Map<string | undefined, Promise<Set<string>>>();

  constructor(
    private readonly intervalMs = RELOAD_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A load the agent made (its keys as the agent lists them). */
  loaded(uri: string | undefined, blobs: Buffer[]): void {
    if (!this.uris.includes(uri)) this.uris.push(uri);
    for (const b of blobs) this.origins.set(b.toString('latin1'), uri);
  }

  /**
   * Runs `load` again for the load that reported `blob` and says whether `blob` is back.
   * False at once for a key no load reported, or when that load ran again less than the
   * interval ago; misses meanwhile share the run under way.
   */
  async reloadFor(blob: Buffer, load: (uri: string | undefined) => Promise<Buffer[]>): Promise<boolean> {
    const key = blob.toString('latin1');
    if (!this.origins.has(key)) return false;
    const uri = this.origins.get(key);
    let run = this.running.get(uri);
    if (!run) {
      const last = this.lastRun.get(uri);
      if (last !== undefined && this.now() - last < this.intervalMs) return false;
      this.lastRun.set(uri, this.now());
      run = load(uri)
        .then((blobs) => new Set(blobs.map((b) => b.toString('latin1'))))
        .catch(() => new Set<string>())
        .finally(() => this.running.delete(uri));
      this.running.set(uri, run);
    }
    return (await run).has(key);
  }

  /** Whether a load the agent made reported `blob`: a key the agent holds. */
  holds(blob: Buffer): boolean {
    return this.origins.has(blob.toString('latin1'));
  }

  /** The module was removed: nothing is loaded any more. */
  clear(): void {
    this.uris.length = 0;
    this.origins.clear();
    this.lastRun.clear();
  }
}
