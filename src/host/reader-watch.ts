// A signature stuck in a module whose card has left its reader. OpenSC 0.23 initialised with
// OS locking — which p11-kit-proxy always asks of the modules it manages — deadlocks when a
// signature meets a card removal. The host cannot tell: its presence watch needs the lock the
// signature holds, and a quick signature runs on its event loop. Only the sign watchdog (30 s
// by default, long enough for a PIN pad or a touch) would end it. So while a signature of a
// module that talks to pcscd is pending, the agent asks pcscd itself about the key's reader
// (the slot description names it): once the card there is gone, or was pulled and put back
// (pcsc-lite's event counter moved), the signature cannot succeed any more, and a module
// that is not stuck answers within milliseconds with CKR_DEVICE_REMOVED. One still silent
// GRACE_MS later is stuck: the provider replaces its host, as the watchdog would, seconds to
// minutes sooner. A module that does not talk to pcscd is never watched: nothing is asked of
// pcscd for SoftHSM, TPM or opencryptoki keys.
import * as fs from 'node:fs';
import type { PcscReaderState } from '../native';

/** How often pcscd is asked while a watched signature is pending (one thread-pool call each). */
export const POLL_MS = 150;
/** How long a module may stay silent after its card left, before it is taken as stuck. */
export const GRACE_MS = 300;

export type ReadReader = (name: string) => Promise<PcscReaderState | null>;

export interface ReaderWatchOptions {
  read: ReadReader;
  pollMs?: number;
  graceMs?: number;
  now?: () => number;
}

export class ReaderWatch {
  /** latin1 key blob → the reader (slot description) its token sat in when loaded. */
  private readonly readers = new Map<string, string>();
  /** One question per reader at a time, shared by every signature waiting on it. */
  private readonly asking = new Map<string, Promise<PcscReaderState | null>>();
  private readonly pollMs: number;
  private readonly graceMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ReaderWatchOptions) {
    this.pollMs = options.pollMs ?? POLL_MS;
    this.graceMs = options.graceMs ?? GRACE_MS;
    this.now = options.now ?? Date.now;
  }

  /** Keys a load reported, with their slots. */
  loaded(identities: readonly { blob: Buffer; slot: string }[]): void {
    for (const i of identities) if (i.slot) this.readers.set(i.blob.toString('latin1'), i.slot);
  }

  clear(): void {
    this.readers.clear();
  }

  /**
   * Follows one pending signature with `blob`. Calls `stuck(why)` at most once, when the card
   * in the key's reader left (or was replaced) and the signature is still pending GRACE_MS
   * after that was seen. Returns the function that ends the watch: call it when the signature
   * settles. Nothing is watched for a key with no slot description or one pcscd does not know.
   */
  follow(blob: Buffer, stuck: (why: string) => void): () => void {
    const reader = this.readers.get(blob.toString('latin1'));
    if (reader === undefined) return () => undefined;
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    let baseline: PcscReaderState | undefined;
    let changedAt: number | undefined;
    const look = async (): Promise<void> => {
      timer = undefined;
      const state = await this.ask(reader);
      if (ended) return;
      // Not a PC/SC reader, or pcscd gone: nothing to compare, so nothing is concluded.
      if (state === null) return;
      baseline ??= state;
      if (!state.present || state.events !== baseline.events) changedAt ??= this.now();
      if (changedAt !== undefined && this.now() - changedAt >= this.graceMs) {
        ended = true;
        const how = state.present ? 'was pulled and put back' : 'was pulled out';
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

  private ask(reader: string): Promise<PcscReaderState | null> {
    let q = this.asking.get(reader);
    if (!q) {
      q = this.options
        .read(reader)
        .catch(() => null)
        .finally(() => this.asking.delete(reader));
      this.asking.set(reader, q);
    }
    return q;
  }
}

/**
 * Whether process `pid` has libpcsclite mapped: its module talks to pcscd (OpenSC and ykcs11
 * load it at C_Initialize, also behind p11-kit-proxy). Read from the kernel, not asked of the
 * host; a host that maps it without need only costs itself a few questions to pcscd.
 */
export function usesPcsc(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    return /\/libpcsclite\.so[^/\n]*$/m.test(fs.readFileSync(`/proc/${pid}/maps`, 'latin1'));
  } catch {
    return false;
  }
}
