// The few agent requests the benchmark needs besides signing: list identities (to find the
// key blobs) and "does this socket answer" (start-up timing).
import { connect } from 'node:net';

const SSH_AGENTC_REQUEST_IDENTITIES = 11;
const SSH_AGENT_IDENTITIES_ANSWER = 12;

/** One request, one reply body, on a fresh connection. Rejects on connection errors or after `timeoutMs`. */
export function agentRequest(socketPath: string, body: Buffer, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      s.destroy();
      reject(err);
    };
    s.once('error', fail);
    s.once('close', () => fail(new Error(`${socketPath} closed the connection`)));
    s.on('connect', () => {
      const frame = Buffer.alloc(4 + body.length);
      frame.writeUInt32BE(body.length, 0);
      body.copy(frame, 4);
      s.write(frame);
    });
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        clearTimeout(timer);
        s.removeAllListeners('close');
        s.destroy();
        resolve(buf.subarray(4, 4 + buf.readUInt32BE(0)));
      }
    });
  });
}

export interface ListedKey {
  blob: Buffer;
  comment: string;
  /** the key type string at the start of the blob (ssh-rsa, ecdsa-sha2-nistp256, ...) */
  type: string;
}

// byte SSH_AGENT_IDENTITIES_ANSWER / uint32 nkeys / { string key_blob / string comment }*
export async function listIdentities(socketPath: string): Promise<ListedKey[]> {
  const reply = await agentRequest(socketPath, Buffer.of(SSH_AGENTC_REQUEST_IDENTITIES));
  if (reply[0] !== SSH_AGENT_IDENTITIES_ANSWER) throw new Error(`identities request answered with type ${reply[0]}`);
  const n = reply.readUInt32BE(1);
  let o = 5;
  const str = () => {
    const len = reply.readUInt32BE(o);
    const v = reply.subarray(o + 4, o + 4 + len);
    o += 4 + len;
    return v;
  };
  const keys: ListedKey[] = [];
  for (let i = 0; i < n; i++) {
    const blob = Buffer.from(str());
    const comment = str().toString('utf8');
    keys.push({ blob, comment, type: blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1') });
  }
  return keys;
}
