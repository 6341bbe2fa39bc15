// SHA-256 fingerprints of blobs the agent keeps (identity keys, bound host keys), computed once
// per Buffer object: every use names its key and host, and a hash per use is worth saving.
import { fingerprintSha256 } from '../protocol/fingerprint';

const cache = new WeakMap<Buffer, string>();

export function cachedFingerprint(blob: Buffer): string {
  let fp = cache.get(blob);
  if (fp === undefined) {
    fp = fingerprintSha256(blob);
    cache.set(blob, fp);
  }
  return fp;
}
