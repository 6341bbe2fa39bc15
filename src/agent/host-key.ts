// The host key a session-bind@openssh.com names: a plain key, or a host certificate when the
// server presented one (ssh binds the key from the key exchange as it arrived). A certificate
// must carry a valid CA signature; the session signature is made by its certified key.
import { decodeVerifiedCertificate, type SshCertificate } from '../protocol/certificate';
import { decodePublicKeyBlob, isCertificateType, peekKeyType } from '../protocol/key-blob';
import type { PublicKey } from '../protocol/public-key';

export function decodeBoundHostKey(blob: Buffer): { hostKey: PublicKey; hostCert?: SshCertificate } {
  if (!isCertificateType(peekKeyType(blob))) return { hostKey: decodePublicKeyBlob(blob) };
  const hostCert = decodeVerifiedCertificate(blob);
  return { hostKey: hostCert.publicKey, hostCert };
}
