// One running module host as its provider keeps it, and how an answer from it settles the
// request it answers. Nothing a host sends is trusted: an answer of the wrong kind, or to a
// request never sent, throws, and the provider kills that host (host-provider.ts).
import type { Channel, Frame } from './channel';
import { FrameKind } from './channel';
import type { Deadline } from './deadline';
import { HostRequestError } from './host-errors';
import { decodeHostError } from './host-frames';
import type { HostProcess } from './host-process';
import type { HostPinRequests } from './pin-request-agent';

export interface Pending {
  kind: 'sign' | 'call';
  decode: (payload: Buffer) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  deadline: Deadline;
}

export interface Running {
  child: HostProcess['child'];
  channel: Channel;
  pending: Map<number, Pending>;
  pins: HostPinRequests;
  /** Set once the child is gone; every later request needs a new host. */
  dead: boolean;
  /** Its module talks to pcscd (its last load said so), so a signature's card can be watched. */
  pcsc?: boolean;
}

/**
 * Settles the request a SIGNATURE, RESULT or ERROR frame answers. `nextId` is the provider's
 * next request id: an answer to an id at or above it was never asked for.
 */
export function settleAnswer(host: Running, f: Frame, nextId: number): void {
  if (f.kind !== FrameKind.SIGNATURE && f.kind !== FrameKind.RESULT && f.kind !== FrameKind.ERROR) throw new Error(`frame of unknown kind ${f.kind}`);
  const p = host.pending.get(f.id);
  if (!p) {
    // Answered after its timeout (the host was then killed), or an id never used.
    if (f.id === 0 || f.id >= nextId) throw new Error(`answer to request ${f.id}, which was never sent`);
    return;
  }
  if (f.kind === FrameKind.SIGNATURE && p.kind !== 'sign') throw new Error('SIGNATURE frame answering a call');
  if (f.kind === FrameKind.RESULT && p.kind !== 'call') throw new Error('RESULT frame answering a signature');
  // Decoded before the request is settled: a bad payload kills the host, which fails the request.
  const value = f.kind === FrameKind.ERROR ? new HostRequestError(decodeHostError(f.payload)) : p.decode(f.payload);
  host.pending.delete(f.id);
  p.deadline.cancel();
  if (value instanceof HostRequestError) p.reject(value);
  else p.resolve(value);
}
