// Who may talk to the agent: SO_PEERCRED on every accepted connection, as OpenSSH's agent
// does with getpeereid(). Only the agent's own uid and root pass; everyone else is closed
// before a single byte of theirs is read. The check fails closed: a socket whose descriptor
// or credentials cannot be read is refused too.
import type { Socket } from 'node:net';

/** An accepted peer carries its credentials: the use log names the requesting process by them. */
export type PeerVerdict = { ok: true; pid?: number; uid?: number } | { ok: false; reason: string };

export interface PeerCredSource {
  peerCred(fd: number): { uid: number; pid: number };
}

export function peerUidCheck(native: PeerCredSource, ownUid: number): (socket: Socket) => PeerVerdict {
  return (socket) => {
    // Node keeps the descriptor of a pipe_wrap handle here; -1 or missing means not fd-backed.
    const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return { ok: false, reason: 'peer credentials unavailable (no socket descriptor)' };
    let cred;
    try {
      cred = native.peerCred(fd);
    } catch (err) {
      return { ok: false, reason: `peer credentials unavailable (${(err as Error).message})` };
    }
    if (cred.uid === ownUid || cred.uid === 0) return { ok: true, pid: cred.pid, uid: cred.uid };
    return { ok: false, reason: `peer uid ${cred.uid} (pid ${cred.pid}) is neither the agent's owner (uid ${ownUid}) nor root` };
  };
}
