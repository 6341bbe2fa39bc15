// Certificates for token keys: the associated-certs-v00@openssh.com constraint of
// SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED (OpenSSH PROTOCOL.agent section 3; `ssh-add -s
// MODULE [-C] CERT...` in OpenSSH 10, `tt-agent add MODULE --cert CERT`). Each certificate
// whose public key is on a loaded token becomes an identity of its own that lists as the
// certificate and signs with that token key; with certs_only, the plain keys are not added.
// They share the token keys' provider, so unloading the module takes them away too.
import type { KeyConstraint } from '../protocol/constraints';
import { CERT_FOREVER, decodeCertificate, verifyCertificate, type SshCertificate } from '../protocol/certificate';
import { isCertificateType, peekKeyType } from '../protocol/key-blob';
import type { Identity, IdentityConstraints } from './identities';
import type { AgentLog } from './log';
import type { TokenIdentity, TokenProvider } from '../token-provider/provider';
import { AgentRefusal, describeError } from './refusal';

/**
 * A certificate key is removed this long after its certificate expires, as OpenSSH 10's
 * ssh-add does for the certificates it adds (CERT_EXPIRY_GRACE): it is useless by then, and
 * `ssh-add -l` should not go on offering it.
 */
export const CERT_EXPIRY_GRACE_SECONDS = 5 * 60;

export interface AssociatedCerts {
  certOnly: boolean;
  certs: SshCertificate[];
}

/** Takes the associated-certs constraint out of the list (the rest apply to every key). */
export function splitAssociatedCerts(list: readonly KeyConstraint[], log: AgentLog): { rest: KeyConstraint[]; associated?: AssociatedCerts } {
  const rest: KeyConstraint[] = [];
  let associated: AssociatedCerts | undefined;
  for (const c of list) {
    if (c.kind !== 'associated-certs') {
      rest.push(c);
      continue;
    }
    const certs: SshCertificate[] = [];
    for (const [i, blob] of c.certs.entries()) {
      // OpenSSH skips plain keys in the list; a malformed certificate refuses the request.
      // The CA signature is checked later, only for certificates that match a token key:
      // up to 1024 signature checks on the event loop would stall every other client.
      if (!isCertificateType(safePeek(blob))) {
        log('info', `associated-certs: entry ${i + 1} is not a certificate; skipped`);
        continue;
      }
      try {
        certs.push(decodeCertificate(blob));
      } catch (err) {
        throw new AgentRefusal(`associated-certs: certificate ${i + 1} rejected: ${describeError(err)}`);
      }
    }
    associated = { certOnly: c.certOnly, certs };
  }
  return { rest, associated };
}

function safePeek(blob: Buffer): string {
  try {
    return peekKeyType(blob);
  } catch {
    return '';
  }
}

/** The identities one load adds: plain token keys (unless certs_only) and matched certificates. */
export function tokenIdentities(
  loaded: readonly TokenIdentity[],
  provider: TokenProvider,
  constraints: IdentityConstraints,
  associated: AssociatedCerts | undefined,
  log: AgentLog,
): Identity[] {
  const out: Identity[] = [];
  const now = Date.now();
  for (const t of loaded) {
    const base = { publicKey: t.publicKey, comment: t.comment, source: { kind: 'token' as const, provider, token: t.token } };
    if (!associated?.certOnly) out.push({ ...base, blob: Buffer.from(t.blob), constraints });
    for (const cert of associated?.certs ?? []) {
      if (!cert.keyBlob.equals(t.blob)) continue;
      try {
        verifyCertificate(cert);
      } catch (err) {
        log('warn', `certificate for token key ${JSON.stringify(t.comment)} not added: ${describeError(err)}`);
        continue;
      }
      const expiresAt = certificateExpiry(cert);
      if (expiresAt !== undefined && expiresAt <= now) {
        log('info', `certificate "${cert.keyId}" for token key ${JSON.stringify(t.comment)} expired; not added`);
        continue;
      }
      const limited = expiresAt !== undefined && (constraints.expiresAt === undefined || expiresAt < constraints.expiresAt);
      if (limited) log('info', `certificate "${cert.keyId}" for token key ${JSON.stringify(t.comment)} leaves the agent at ${new Date(expiresAt).toISOString()} (${CERT_EXPIRY_GRACE_SECONDS / 60} minutes after it expires)`);
      out.push({ ...base, blob: cert.blob, certificate: cert, constraints: limited ? { ...constraints, expiresAt } : constraints });
    }
  }
  for (const cert of associated?.certs ?? []) {
    if (!loaded.some((t) => cert.keyBlob.equals(t.blob))) log('info', `certificate "${cert.keyId}" matches no key on the loaded tokens; not added`);
  }
  return out;
}

/** When a certificate key should leave the agent (ms since epoch), or undefined for "never". */
export function certificateExpiry(cert: SshCertificate): number | undefined {
  if (cert.validBefore === CERT_FOREVER) return undefined;
  const seconds = cert.validBefore + BigInt(CERT_EXPIRY_GRACE_SECONDS);
  return seconds > BigInt(Math.floor(Number.MAX_SAFE_INTEGER / 1000)) ? undefined : Number(seconds) * 1000;
}
