// A signature stuck in a module whose card has left its reader. OpenSC 0.23 initialised with
// OS locking — which p11-kit-proxy always asks of the modules it manages — deadlocks when a
// signature meets a card removal. The host cannot tell: its presence watch needs the lock the
// signature holds, and a quick signature runs on its event loop. Only the sign watchdog (30 s
// by default, long enough for a PIN pad or a touch) would end it. So while a signature of a
// module that talks to pcscd is pending, the agent asks pcscd itself about the key's reader
// (the slot description names it): once the card there is gone, was pulled and put back
// (pcsc-lite's event counter moved), or the reader itself went (a USB token is its own
// reader), the signature cannot succeed any more, and a module that is not stuck answers
// within milliseconds with CKR_DEVICE_REMOVED. One still silent GRACE_MS later is stuck: the
// provider replaces its host, as the watchdog would, seconds to minutes sooner. Modules that
// do not load libpcsclite (SoftHSM, TPM, opencryptoki) are never watched.
import { performance } from 'node:perf_hooks';
import type { PcscReaderState } from '../native';

/** How often pcscd is asked while a watched signature is pending (one thread-pool call each). */
export const POLL_MS = 150;
/** How long a module may stay silent after its card left, before it is taken as stuck. */
export const GRACE_MS = 300;
/**
 * pcsc-lite's client waits for pcscd without a time limit, so a wedged pcscd holds a thread
 * of libuv's pool (4 by default, shared with file and crypto work) per question. A question
 * unanswered this long counts as "cannot ask"; it keeps its thread, and no other question is
 * asked about that reader until it returns. At most MAX_ASKING questions are out at once.
 */
export const ASK_LIMIT_MS = 1000;
export const MAX_ASKING = 2;
/** pcsc-lite's reader names are shorter (MAX_READERNAME 128); a longer slot is not a reader. */
const MAX_READER_NAME = 126;

export type ReadReader = (name: string) => Promise<PcscReaderState | null>;

export interface ReaderWatchOptions {
  read: ReadReader;
  pollMs?: number;
  graceMs?: number;
  now?: () => number;
}

/** Questions out to pcscd, shared by every watch of the agent: one per reader at a time. */
const asking = new Map<string, Promise<PcscReaderState | null>>();

export class ReaderWatch {
  /** latin1 key blob → the reader its token sat in when loaded; null when two readers hold it. */
  private readonly readers = new Map<string, string | null>();
  private readonly pollMs: number;
  private readonly graceMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ReaderWatchOptions) {
    this.pollMs = options.pollMs ?? POLL_MS;
    this.graceMs = options.graceMs ?? GRACE_MS;
    // Monotonic: a clock step must not shorten the grace.
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * Keys the agent kept from a load, with their slots; a later load's word replaces an earlier
   * one (a token moved to another reader). A key one load found in two readers (the same key
   * on a backup card) is not watched: pulling the other card must not end its signature. The
   * caller passes only keys the agent holds, so a host cannot grow this map at will.
   */
  loaded(identities: readonly { blob: Buffer; slot: string }[]): void {
    const seen = new Map<string, string | null>();
    for (const i of identities) {
      const key = i.blob.toString('latin1');
      const slot = i.slot && Buffer.byteLength(i.slot) <= MAX_READER_NAME ? i.slot : null;
      const before = seen.get(key);
      seen.set(key, before === undefined || before === slot ? slot : null);
    }
    for (const [key, slot] of seen) this.readers.set(key, slot);
  }

  clear(): void {
    this.readers.clear();
  }

  /**
   * Follows one pending signature with `blob`. Calls `stuck(why)` at most once, when the card
   * in the key's reader left (or was replaced, or the reader went) and the signature is still
   * pending GRACE_MS after that was seen. Returns the function that ends the watch: call it
   * when the signature settles. A key with no slot description is not watched; nor is one
   * whose slot pcscd does not know as a reader when the signature starts.
   */
  follow(blob: Buffer, stuck: (why: string) => void): () => void {
    const reader = this.readers.get(blob.toString('latin1'));
    if (!reader) return () => undefined;
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    let baseline: PcscReaderState | undefined;
    let changedAt: number | undefined;
    let how = '';
    const look = async (): Promise<void> => {
      timer = undefined;
      const state = await ask(this.options.read, reader);
      if (ended) return;
      // null: pcscd could not be asked this time (restarting, wedged); nothing is concluded.
      if (state !== null) {
        if (baseline === undefined && !state.known) return; // a slot that is no PC/SC reader
        baseline ??= state;
        const change = cardChange(baseline, state);
        if (change && changedAt === undefined) {
          changedAt = this.now();
          how = change;
        }
      }
      if (changedAt !== undefined && this.now() - changedAt >= this.graceMs) {
        ended = true;
        stuck(`the card in reader "${reader}" ${how} during a signature and the module has not answered since`);
        return;
      }
      timer = setTimeout(() => void look(), changedAt === undefined ? this.pollMs : Math.min(this.pollMs, this.graceMs));
      timer.unref();
    };
    void look();
    return () => {
      ended = true;
      if (timer) clearTimeout(timer);
    };
  }
}

/** How the card changed since `baseline`, or '' when it did not. */
function cardChange(baseline: PcscReaderState, state: PcscReaderState): string {
  if (!state.known) return 'went away with its reader';
  if (!state.present) return 'was pulled out';
  if (state.events !== baseline.events) return 'was pulled and put back';
  return '';
}

/** One question about `reader`, shared while out; null after ASK_LIMIT_MS or beyond MAX_ASKING. */
function ask(read: ReadReader, reader: string): Promise<PcscReaderState | null> {
  let q = asking.get(reader);
  if (!q) {
    if (asking.size >= MAX_ASKING) return Promise.resolve(null);
    q = read(reader)
      .then((s) => (s !== null && typeof s === 'object' ? s : null))
      .catch(() => null)
      .finally(() => asking.delete(reader));
    asking.set(reader, q);
  }
  let limit: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    limit = setTimeout(() => resolve(null), ASK_LIMIT_MS);
    limit.unref();
  });
  return Promise.race([q, late]).finally(() => clearTimeout(limit));
}
