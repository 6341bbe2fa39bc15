// One client connection: bytes → FrameDecoder → dispatch → framed replies. Requests on one
// connection are answered one after another, in order (the protocol has no request ids);
// different connections never wait for each other. A frame over 256 KiB, or of length 0,
// cannot be resynchronised and closes only this connection.
import type { Socket } from 'node:net';
import { frame, FrameDecoder, FrameTooLargeError } from '../protocol/framing';
import type { AgentCore } from './core';
import { dispatch } from './dispatch';
import { describeError } from './refusal';
import { newConnectionState } from './connection-state';

// A client that pipelines more than this without reading replies is paused until it catches up.
const MAX_QUEUED_REQUESTS = 64;

export function serveConnection(socket: Socket, core: AgentCore, id: number, peer?: { pid: number; uid: number }): void {
  const decoder = new FrameDecoder();
  const conn = newConnectionState(id, peer);
  let chain: Promise<void> = Promise.resolve();
  let queued = 0;

  socket.on('data', (chunk: Buffer) => {
    let bodies: Buffer[];
    try {
      bodies = decoder.push(chunk);
    } catch (err) {
      const why = err instanceof FrameTooLargeError ? err.message : describeError(err);
      core.log('warn', `connection ${id}: ${why}; closing it`);
      socket.destroy();
      return;
    }
    for (const body of bodies) {
      queued++;
      if (queued >= MAX_QUEUED_REQUESTS) socket.pause();
      chain = chain.then(async () => {
        const reply = await dispatch(body, { core, conn });
        if (!socket.destroyed && socket.writable) socket.write(frame(reply));
        queued--;
        if (queued < MAX_QUEUED_REQUESTS / 2 && socket.isPaused() && !socket.destroyed) socket.resume();
      });
    }
  });
  socket.on('error', (err) => core.log('debug', `connection ${id}: ${describeError(err)}`));
  socket.on('close', () => {
    decoder.clear();
    core.log('debug', `connection ${id} closed`);
  });
}
