// A request's time limit that can be paused: while a person types a PIN the module host is
// not hung, so its signatures' clocks stop; they never start again from zero, so a host that
// keeps asking cannot stretch a hung signature past its limit.
export class Deadline {
  private timer?: NodeJS.Timeout;
  private remaining: number;
  private since = 0;
  private done = false;

  constructor(
    ms: number,
    private readonly expire: () => void,
  ) {
    this.remaining = ms;
    this.start();
  }

  private start(): void {
    this.since = Date.now();
    this.timer = setTimeout(() => {
      this.done = true;
      this.expire();
    }, Math.max(0, this.remaining));
  }

  pause(): void {
    if (!this.timer || this.done) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remaining -= Date.now() - this.since;
  }

  resume(): void {
    if (this.timer || this.done) return;
    this.start();
  }

  cancel(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
