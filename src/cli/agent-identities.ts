// `tt-agent list` without a module: the agent's identities, as `ssh-add -l` prints them
// (bits, SHA256 fingerprint, comment, type), each followed by where the key lives when the
// agent is a tt-agent (a token label and module, or a file key).
import { decodePublicKeyBlob } from '../protocol/key-blob';
import { fingerprintSha256 } from '../protocol/fingerprint';
import { keyBits, sshKeyType, type PublicKey } from '../protocol/public-key';
import { authorizedKeysLine } from '../protocol/authorized-keys';
import { AgentClient, queryAgentStatus } from './agent-client';
import { UserError } from './errors';

const LIST_TYPE: Record<PublicKey['kind'], string> = { rsa: 'RSA', ecdsa: 'ECDSA', ed25519: 'ED25519' };

interface StatusKeys {
  keys?: { fingerprint: string; source: string }[];
}

export interface ListOptions {
  socketPath?: string;
  /** Print authorized_keys lines (as ssh-add -L) instead of fingerprints. */
  publicKeys?: boolean;
  /** One JSON array of {type, bits, fingerprint, comment, source, publicKey}. */
  json?: boolean;
  out?: NodeJS.WritableStream;
}

export async function listAgentIdentities(opts: ListOptions = {}): Promise<number> {
  const out = opts.out ?? process.stdout;
  const client = await AgentClient.connect(opts.socketPath);
  let identities;
  try {
    const resp = await client.call({ type: 'SSH_AGENTC_REQUEST_IDENTITIES' }, 'SSH_AGENT_IDENTITIES_ANSWER');
    if (resp.type !== 'SSH_AGENT_IDENTITIES_ANSWER') {
      throw new UserError(`the agent at ${client.socketPath} refused to list its keys.`, 'Is it locked? Unlock it with: ssh-add -X');
    }
    identities = resp.identities;
  } finally {
    client.close();
  }
  if (identities.length === 0 && !opts.json) {
    out.write('The agent has no identities.\n');
    return 1;
  }
  const status = opts.publicKeys ? null : await queryAgentStatus<StatusKeys>(client.socketPath, { full: true, timeoutMs: 5000 });
  const where = new Map((status?.keys ?? []).map((k) => [k.fingerprint, k.source]));
  if (opts.json) {
    const rows = identities.map((id) => {
      const pk = tryDecode(id.blob);
      const fingerprint = fingerprintSha256(id.blob);
      return {
        type: pk ? sshKeyType(pk) : null,
        bits: pk ? keyBits(pk) : null,
        fingerprint,
        comment: id.comment,
        source: where.get(fingerprint) ?? null,
        publicKey: pk ? authorizedKeysLine(pk) : null,
      };
    });
    out.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  for (const id of identities) {
    const pk = tryDecode(id.blob);
    const fp = fingerprintSha256(id.blob);
    if (opts.publicKeys) {
      out.write(pk ? `${authorizedKeysLine(pk, id.comment)}\n` : `# ${fp} ${id.comment} (unsupported key type)\n`);
      continue;
    }
    const source = where.get(fp);
    const line = pk ? `${keyBits(pk)} ${fp} ${id.comment} (${LIST_TYPE[pk.kind]})` : `? ${fp} ${id.comment} (unknown type)`;
    out.write(`${line}${source ? `  [${source}]` : ''}\n`);
  }
  return 0;
}

/** Undefined for a key type we do not know (a certificate, an sk- key from another agent). */
function tryDecode(blob: Buffer): PublicKey | undefined {
  try {
    return decodePublicKeyBlob(blob);
  } catch {
    return undefined;
  }
}
