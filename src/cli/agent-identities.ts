// `tt-agent list` without a module: the agent's identities, as `ssh-add -l` prints them
// (bits, SHA256 fingerprint, comment, type), each followed by where the key lives when the
// agent is a tt-agent (a token label and module, or a file key).
import { decodeCertificate } from '../protocol/certificate';
import { decodePublicKeyBlob, isCertificateType, peekKeyType } from '../protocol/key-blob';
import { fingerprintSha256 } from '../protocol/fingerprint';
import { keyBits, sshKeyType, type PublicKey } from '../protocol/public-key';
import { authorizedKeysLine } from '../protocol/authorized-keys';
import { AgentClient, queryAgentStatus } from './agent-client';
import { UserError } from './user-error';

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
      const k = tryDecode(id.blob);
      const pk = k?.publicKey;
      return {
        type: k?.type ?? null,
        bits: pk ? keyBits(pk) : null,
        fingerprint: k?.fingerprint ?? fingerprintSha256(id.blob),
        comment: id.comment,
        source: where.get(fingerprintSha256(id.blob)) ?? null,
        publicKey: k?.line('') ?? null,
        ...(k?.keyId !== undefined ? { keyId: k.keyId } : {}),
      };
    });
    out.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  for (const id of identities) {
    const k = tryDecode(id.blob);
    const fp = k?.fingerprint ?? fingerprintSha256(id.blob);
    if (opts.publicKeys) {
      out.write(k ? `${k.line(id.comment)}\n` : `# ${fp} ${id.comment} (unsupported key type)\n`);
      continue;
    }
    const source = where.get(fingerprintSha256(id.blob));
    const line = k ? `${keyBits(k.publicKey)} ${fp} ${id.comment} (${k.listType})` : `? ${fp} ${id.comment} (unknown type)`;
    out.write(`${line}${source ? `  [${source}]` : ''}\n`);
  }
  return 0;
}

interface DecodedIdentity {
  publicKey: PublicKey;
  /** SSH type name: the key's, or the certificate's. */
  type: string;
  /** As ssh-add -l shows it: ECDSA, or ECDSA-CERT for a certificate. */
  listType: string;
  /** The key's fingerprint (a certificate shows its key's, as ssh-add -l does). */
  fingerprint: string;
  keyId?: string;
  line(comment: string): string;
}

/** Undefined for a key type we do not know (an sk- key from another agent, say). */
function tryDecode(blob: Buffer): DecodedIdentity | undefined {
  try {
    if (isCertificateType(peekKeyType(blob))) {
      const cert = decodeCertificate(blob);
      const text = `${cert.type} ${blob.toString('base64')}`;
      return {
        publicKey: cert.publicKey,
        type: cert.type,
        listType: `${LIST_TYPE[cert.publicKey.kind]}-CERT`,
        fingerprint: fingerprintSha256(cert.keyBlob),
        keyId: cert.keyId,
        line: (comment) => (comment ? `${text} ${comment}` : text),
      };
    }
    const pk = decodePublicKeyBlob(blob);
    return {
      publicKey: pk,
      type: sshKeyType(pk),
      listType: LIST_TYPE[pk.kind],
      fingerprint: fingerprintSha256(blob),
      line: (comment) => authorizedKeysLine(pk, comment || undefined),
    };
  } catch {
    return undefined;
  }
}
