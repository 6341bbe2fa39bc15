// How long each token has been out of its reader: past the limit its cached PIN is forgotten
// (checked by a timer, and again whenever the token is asked about).
export class AbsenceClock {
  private readonly since = new Map<string, { at: number; timer: NodeJS.Timeout }>();

  constructor(
    private readonly forgetMs: number,
    private readonly now: () => number,
    private readonly forget: (key: string) => void,
  ) {}

  absent(key: string): void {
    if (this.since.has(key)) return;
    const timer = setTimeout(() => this.check(key), this.forgetMs);
    timer.unref();
    this.since.set(key, { at: this.now(), timer });
  }

  present(key: string): void {
    this.check(key);
    const s = this.since.get(key);
    if (s) clearTimeout(s.timer);
    this.since.delete(key);
  }

  /** Forgets the token's PIN when it has been away too long. */
  check(key: string): void {
    const s = this.since.get(key);
    if (s && this.now() - s.at >= this.forgetMs) this.forget(key);
  }

  has(key: string): boolean {
    return this.since.has(key);
  }

  close(): void {
    for (const s of this.since.values()) clearTimeout(s.timer);
    this.since.clear();
  }
}
