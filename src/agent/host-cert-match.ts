// Host certificates in destination constraints (`ssh-add -h` with a @cert-authority line):
// a hop whose host key is a certificate matches a keyspec marked is_ca when the CA is that
// key and the certificate is valid for the hop's hostname, as OpenSSH's match_key_hop and
// sshkey_cert_check_host decide it.
//
// One difference from the certificate format description (PROTOCOL.certkeys and its I-D),
// where an empty principals list means "valid for any principal": OpenSSH 10.x refuses such
// certificates ("Certificate lacks principal list"), and so do we. An empty list is far more
// often a CA's mistake than an intent, and in a constraint whose point is to narrow where a
// key may be used, failing closed is the safe reading.
import { certificateSignatureAlgorithm, SSH2_CERT_TYPE_HOST, type SshCertificate } from '../protocol/certificate';

// OpenSSH's SSH_ALLOWED_CA_SIGALGS: no SHA-1 RSA (ssh-rsa) signatures from a CA.
const ALLOWED_CA_SIGNATURE_ALGORITHMS = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-256',
  'rsa-sha2-512',
]);

export type HostCertVerdict = { ok: true } | { ok: false; reason: string };

/** Is `cert` (a verified host certificate) valid now for `hostname`? */
export function checkHostCertificate(cert: SshCertificate, hostname: string, nowSeconds = Math.floor(Date.now() / 1000)): HostCertVerdict {
  if (cert.certType !== SSH2_CERT_TYPE_HOST) return { ok: false, reason: 'not a host certificate' };
  const now = BigInt(nowSeconds);
  if (now < cert.validAfter) return { ok: false, reason: 'not yet valid' };
  if (now >= cert.validBefore) return { ok: false, reason: 'expired' };
  if (cert.principals.length === 0) return { ok: false, reason: 'certificate lacks principal list' };
  if (!cert.principals.some((p) => matchPattern(hostname, p))) return { ok: false, reason: `${hostname} is not a listed principal` };
  if (cert.criticalOptions.length > 0) return { ok: false, reason: 'certificate contains unsupported critical options' };
  if (!ALLOWED_CA_SIGNATURE_ALGORITHMS.has(certificateSignatureAlgorithm(cert))) {
    return { ok: false, reason: 'certificate signed with a disallowed algorithm' };
  }
  return { ok: true };
}

/** OpenSSH's match_pattern: '*' and '?' wildcards over the whole name. */
export function matchPattern(name: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(name);
}
