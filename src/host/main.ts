// Entry of a module host: a child process of the agent that owns one PKCS#11 module, so a
// module that crashes or hangs takes down only this process. Started by provider.ts as
//   node [execArgv] main.js MODULE_PATH
// with the channel to the agent on fd 3. It exits when the agent closes that pipe.
import * as net from 'node:net';
import { deserialize } from 'node:v8';
import { Channel, FrameKind, decodeSign, type Frame } from './channel';
import { toHostErrorInfo } from './host-errors';
import { encodeHostError, encodeHostEvent, encodeLoadResult } from './host-frames';
import { encodeHostStatus } from './host-status';
import type { HostCall, HostEvent, LogEvent } from './messages';
import { ModuleHost } from './module-host';
import { ChannelPinSource } from './pin-request';
import { nativeAvailable, setDumpable } from '../native';

const FINALIZE_GRACE_MS = 2000;

function main(): void {
  // The host is handed PINs and holds a logged-in token. The agent's non-dumpable flag does
  // not survive exec, so the host sets its own: no ptrace, no core dump, /proc/PID/mem owned by root.
  if (nativeAvailable()) setDumpable(false);
  const modulePath = process.argv[2];
  if (!modulePath) {
    process.stderr.write('tt-agent module host: no module path given\n');
    process.exit(2);
  }
  const stream = new net.Socket({ fd: 3, readable: true, writable: true });
  const channel: Channel = new Channel(stream, (f) => onFrame(f), () => finish());
  const event = (ev: HostEvent) => channel.send(FrameKind.EVENT, 0, encodeHostEvent(ev));
  const fail = (id: number, err: unknown) => channel.send(FrameKind.ERROR, id, encodeHostError(toHostErrorInfo(err)));
  const log = (level: LogEvent['level'], message: string) => event({ type: 'log', level, message });
  const pins = new ChannelPinSource(event);
  const host = new ModuleHost(modulePath, {
    log,
    pinSource: pins,
    serialize: process.env.TT_AGENT_SERIALIZE_MODULE === '1' ? true : undefined,
  });

  // C_Finalize on every orderly exit (the agent closed the pipe, SIGTERM, SIGINT, SIGHUP):
  // tpm2-pkcs11 on a direct TCTI leaves its objects and sessions loaded in the TPM otherwise,
  // and the next process's C_Login fails on a full TPM. A module that hangs in C_Finalize
  // does not keep the process alive for more than FINALIZE_GRACE_MS.
  let finishing = false;
  function finish(): void {
    if (finishing) return;
    finishing = true;
    const grace = setTimeout(() => process.exit(0), FINALIZE_GRACE_MS);
    host.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
    grace.unref();
  }
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(s, finish);

  function onFrame(f: Frame): void {
    if (f.kind === FrameKind.SIGN) {
      let req;
      try {
        req = decodeSign(f.payload);
      } catch (err) {
        fail(f.id, err);
        return;
      }
      host.sign(req.blob, req.data, req.flags).then(
        (sig) => channel.send(FrameKind.SIGNATURE, f.id, sig),
        (err) => fail(f.id, err),
      );
      return;
    }
    if (f.kind === FrameKind.CALL) {
      // v8 only in this direction: the host trusts its agent; the agent trusts no host.
      const call = deserialize(f.payload) as HostCall;
      // The decoded PIN is a view into the frame: copy it out, then zero the frame.
      if ((call.op === 'load' || call.op === 'pin-answer') && call.pin) call.pin = Buffer.from(call.pin);
      f.payload.fill(0);
      handle(call)
        .then(
          (answer) => channel.send(FrameKind.RESULT, f.id, answer),
          (err) => fail(f.id, err),
        )
        // After 'close' the answer is flushed, then the pipe ends and so does this process.
        .then(() => call.op === 'close' && channel.end());
    }
  }

  /** The RESULT payload for a call (host-frames.ts); empty for calls without a value. */
  async function handle(call: HostCall): Promise<Buffer> {
    switch (call.op) {
      case 'load':
        try {
          return encodeLoadResult(await host.load(call.pin, call.uri));
        } finally {
          call.pin?.fill(0);
        }
      case 'status':
        return encodeHostStatus(host.status());
      case 'logout':
        await host.logout();
        return Buffer.alloc(0);
      case 'close':
        await host.close();
        return Buffer.alloc(0);
      case 'pin-answer':
        pins.answer(call.requestId, call.pin);
        return Buffer.alloc(0);
    }
  }
}

main();
