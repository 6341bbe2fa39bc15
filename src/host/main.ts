// Entry of a module host: a child process of the agent that owns one PKCS#11 module, so a
// module that crashes or hangs takes down only this process. Started by provider.ts as
//   node [execArgv] main.js MODULE_PATH
// with the channel to the agent on fd 3. It exits when the agent closes that pipe.
import * as net from 'node:net';
import { Channel, FrameKind, decodeSign, decodeValue, type Frame } from './channel';
import { toHostErrorInfo } from './errors';
import type { HostCall, HostEvent } from './messages';
import { ModuleHost } from './module-host';
import { ChannelPinSource } from './pin-request';
import { nativeAvailable, setDumpable } from '../native';

const FINALIZE_GRACE_MS = 2000;

function main(): void {
  // The host holds PINs and a logged-in token. The agent's non-dumpable flag does not survive
  // exec, so the host sets its own: no ptrace, no core dump, /proc/PID/mem owned by root.
  if (nativeAvailable()) setDumpable(false);
  const modulePath = process.argv[2];
  if (!modulePath) {
    process.stderr.write('tt-agent module host: no module path given\n');
    process.exit(2);
  }
  const stream = new net.Socket({ fd: 3, readable: true, writable: true });
  const channel: Channel = new Channel(stream, (f) => onFrame(f), () => finish());
  const log = (level: Extract<HostEvent, { type: 'log' }>['level'], message: string) =>
    channel.sendValue(FrameKind.EVENT, 0, { type: 'log', level, message } satisfies HostEvent);
  const pins = new ChannelPinSource((ev) => channel.sendValue(FrameKind.EVENT, 0, ev satisfies HostEvent));
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
        channel.sendValue(FrameKind.ERROR, f.id, toHostErrorInfo(err));
        return;
      }
      host.sign(req.blob, req.data, req.flags).then(
        (sig) => channel.send(FrameKind.SIGNATURE, f.id, sig),
        (err) => channel.sendValue(FrameKind.ERROR, f.id, toHostErrorInfo(err)),
      );
      return;
    }
    if (f.kind === FrameKind.CALL) {
      const call = decodeValue<HostCall>(f.payload);
      // The decoded PIN is a view into the frame: copy it out, then zero the frame.
      if ((call.op === 'load' || call.op === 'pin-answer') && call.pin) call.pin = Buffer.from(call.pin);
      f.payload.fill(0);
      handle(call)
        .then(
          (value) => channel.sendValue(FrameKind.RESULT, f.id, value ?? null),
          (err) => channel.sendValue(FrameKind.ERROR, f.id, toHostErrorInfo(err)),
        )
        // After 'close' the answer is flushed, then the pipe ends and so does this process.
        .then(() => call.op === 'close' && channel.end());
    }
  }

  async function handle(call: HostCall): Promise<unknown> {
    switch (call.op) {
      case 'load':
        try {
          return await host.load(call.pin, call.uri);
        } finally {
          call.pin?.fill(0);
        }
      case 'status':
        return host.status();
      case 'logout':
        return host.logout();
      case 'close':
        await host.close();
        return null;
      case 'pin-answer':
        pins.answer(call.requestId, call.pin);
        return null;
    }
  }
}

main();
