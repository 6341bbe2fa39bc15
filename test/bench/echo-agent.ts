// A trivially fast stand-in for an agent, to measure the load generator alone: it answers
// every SSH_AGENTC_SIGN_REQUEST at once with one canned SSH_AGENT_SIGN_RESPONSE, a real
// Ed25519 signature over a fixed payload (the client sends that payload in calibration, so
// its verification still passes). Forked by run.ts; argv: SOCKET. Sends
// { blob, payload } (base64, hex) by IPC once it listens.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:net';
import { encodePublicKeyBlob } from '../../src/protocol/key-blob';

const SSH_AGENT_SIGN_RESPONSE = 14;

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

if (require.main === module && process.send) {
  const sock = process.argv[2];
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const blob = encodePublicKeyBlob({ kind: 'ed25519', key: raw });
  const payload = randomBytes(64);
  // string "ssh-ed25519" / string signature (RFC 8709), inside byte 14 / string signature, framed
  const sig = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(sign(null, payload, privateKey))]);
  const body = Buffer.concat([Buffer.of(SSH_AGENT_SIGN_RESPONSE), sshString(sig)]);
  const reply = sshString(body);

  const server = createServer((s) => {
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        buf = buf.subarray(4 + buf.readUInt32BE(0));
        s.write(reply);
      }
    });
    s.on('error', () => undefined);
  });
  server.listen(sock, () => process.send!({ blob: blob.toString('base64'), payload: payload.toString('hex') }));
  process.on('disconnect', () => process.exit(0));
}
