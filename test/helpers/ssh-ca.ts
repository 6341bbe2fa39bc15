// A throw-away OpenSSH certificate authority for tests: `ssh-keygen -s` signs user and host
// certificates with the validity and principals a test asks for, exactly as a real CA does.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface TestCa {
  /** The CA's private key file. */
  keyPath: string;
  /** `ssh-ed25519 AAAA...` of the CA, for TrustedUserCAKeys, @cert-authority or cert-authority lines. */
  pub: string;
  pubPath: string;
  /**
   * Signs `pubPath` (a `.pub` file) and returns the certificate file, written beside it as
   * `<name>-cert.pub` unless `out` says where.
   */
  sign(pubPath: string, o: SignOptions): string;
}

export interface SignOptions {
  keyId: string;
  /** Principals; an empty list writes a certificate without any (ssh-keygen without -n). */
  principals: string[];
  /** ssh-keygen -V, e.g. `-5m:+1h`, `forever`, or `20200101:20200102` for one that expired. */
  validity?: string;
  host?: boolean;
  /** Where the certificate goes (a path ending in -cert.pub); default beside the key. */
  out?: string;
  /** ssh-keygen -t for the CA signature of an RSA CA, e.g. rsa-sha2-512. */
  extraArgs?: string[];
}

export function makeCa(dir: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519', name = 'ca'): TestCa {
  const keyPath = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', name, '-f', keyPath]);
  const pubPath = `${keyPath}.pub`;
  const pub = fs.readFileSync(pubPath, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  return {
    keyPath,
    pub,
    pubPath,
    sign(keyPub, o) {
      const args = ['-q', '-s', keyPath, '-I', o.keyId, '-V', o.validity ?? '-5m:+1h', ...(o.extraArgs ?? [])];
      if (o.principals.length > 0) args.push('-n', o.principals.join(','));
      if (o.host) args.push('-h');
      // ssh-keygen writes <key>-cert.pub beside the input; a copy elsewhere takes another name.
      let input = keyPub;
      if (o.out) {
        input = o.out.replace(/-cert\.pub$/, '.pub');
        if (input !== keyPub) fs.copyFileSync(keyPub, input);
      }
      execFileSync('ssh-keygen', [...args, input], { stdio: ['ignore', 'pipe', 'pipe'] });
      return input.replace(/\.pub$/, '-cert.pub');
    },
  };
}

/** The certificate blob of a `-cert.pub` file. */
export function certBlob(certPath: string): Buffer {
  return Buffer.from(fs.readFileSync(certPath, 'utf8').trim().split(/\s+/)[1], 'base64');
}
