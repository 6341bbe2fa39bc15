// Key fingerprints exactly as `ssh-keygen -l` prints them (hashes of the public key blob).
import { createHash } from 'node:crypto';

/** "SHA256:" + unpadded base64 of SHA-256(blob), the OpenSSH default since 6.8. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** "MD5:" + colon-separated hex, as `ssh-keygen -l -E md5` prints it (older servers log this form). */
export function fingerprintMd5(blob: Buffer): string {
  const hex = createHash('md5').update(blob).digest('hex');
  return `MD5:${hex.match(/../g)!.join(':')}`;
}
