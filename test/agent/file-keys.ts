// Ordinary OpenSSH key files for the agent tests, made once per test file by ssh-keygen.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface FileKey {
  name: string;
  /** Private key file (no passphrase). */
  path: string;
  /**
   * The public key alone, in a directory without the private key: ssh-keygen -Y sign given
   * this file can only sign through the agent (next to the private key it would use the file).
   */
  pubPath: string;
  /** `type base64` of the public key. */
  pub: string;
  /** As `ssh-add -l` shows the type. */
  listType: string;
  bits: number;
}

const SPECS: { name: string; args: string[]; listType: string; bits: number }[] = [
  { name: 'rsa', args: ['-t', 'rsa', '-b', '2048'], listType: 'RSA', bits: 2048 },
  { name: 'ecdsa256', args: ['-t', 'ecdsa', '-b', '256'], listType: 'ECDSA', bits: 256 },
  { name: 'ecdsa384', args: ['-t', 'ecdsa', '-b', '384'], listType: 'ECDSA', bits: 384 },
  { name: 'ecdsa521', args: ['-t', 'ecdsa', '-b', '521'], listType: 'ECDSA', bits: 521 },
  { name: 'ed25519', args: ['-t', 'ed25519'], listType: 'ED25519', bits: 256 },
];

export function makeFileKeys(): { dir: string; keys: Record<string, FileKey>; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-keys-'));
  const keys: Record<string, FileKey> = {};
  for (const s of SPECS) {
    const p = path.join(dir, `id_${s.name}`);
    execFileSync('ssh-keygen', ['-q', ...s.args, '-N', '', '-C', `test-${s.name}`, '-f', p]);
    const pub = fs.readFileSync(`${p}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const pubOnly = path.join(dir, 'public', `id_${s.name}.pub`);
    fs.mkdirSync(path.dirname(pubOnly), { recursive: true });
    fs.copyFileSync(`${p}.pub`, pubOnly);
    keys[s.name] = { name: s.name, path: p, pubPath: pubOnly, pub, listType: s.listType, bits: s.bits };
  }
  return { dir, keys, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
