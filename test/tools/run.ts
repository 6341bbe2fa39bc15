// Running the token tools against a test token, and reading the token back with independent
// tools (pkcs11-tool, p11tool, openssl, ssh-keygen). The CLI is the compiled one (bin/tt-agent →
// dist/): after editing src/, run `npx tsc -p .` before running these files alone.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, type CliResult } from '../cli/pubkey-run';
import type { TestToken } from '../helpers/softhsm';

export { assertOneLineError } from '../cli/pubkey-run';

/** tt-agent with the token's PIN in a file; `noTerminal` runs it in a new session without a controlling tty. */
export function tt(tok: TestToken, args: string[], opts: { pin?: boolean; noTerminal?: boolean } = {}): CliResult {
  const pinFile = path.join(tok.dir, 'pin');
  if (!fs.existsSync(pinFile)) fs.writeFileSync(pinFile, `${tok.pin}\n`);
  const full = [BIN, ...args, ...(opts.pin === false ? [] : ['--pin-source', pinFile])];
  const [cmd, argv] = opts.noTerminal ? ['setsid', ['-w', process.execPath, ...full]] : [process.execPath, full];
  const r = spawnSync(cmd, argv, { env: tok.env, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface ListedObject {
  type: 'privkey' | 'pubkey' | 'cert';
  label: string;
  id: string;
  /** pkcs11-tool's "Access:" line of private keys */
  access?: string;
}

/** Objects as `pkcs11-tool --list-objects --login` prints them. */
export function pkcs11ToolObjects(tok: TestToken): ListedObject[] {
  const out = tok.pkcs11Tool(['--list-objects', '--login', '--pin', tok.pin]);
  const objects: ListedObject[] = [];
  let cur: ListedObject | undefined;
  for (const line of out.split('\n')) {
    const head = /^(Private Key|Public Key|Certificate) Object/.exec(line);
    if (head) {
      cur = { type: head[1] === 'Private Key' ? 'privkey' : head[1] === 'Public Key' ? 'pubkey' : 'cert', label: '', id: '' };
      objects.push(cur);
      continue;
    }
    if (!cur) continue;
    const m = /^\s+(label|ID|Access):\s*(.*)$/.exec(line);
    if (m?.[1] === 'label') cur.label = m[2].trim();
    else if (m?.[1] === 'ID') cur.id = m[2].trim();
    else if (m?.[1] === 'Access') cur.access = m[2].trim();
  }
  return objects;
}

/** Objects as `p11tool --list-all --login` prints them (type from the URL, ID from the ID line). */
export function p11toolObjects(tok: TestToken): { type: string; label: string; id: string }[] {
  const out = execFileSync(
    'p11tool',
    ['--provider', tok.module, '--list-all', '--login', `pkcs11:token=${encodeURIComponent(tok.tokens[0].label)}`],
    { env: { ...tok.env, GNUTLS_PIN: tok.pin }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return out
    .split(/\n(?=Object \d+:)/)
    .filter((b) => b.startsWith('Object'))
    .map((b) => ({
      type: /;type=([a-z-]+)/.exec(b)?.[1] ?? '',
      label: /\n\s+Label: (.*)/.exec(b)?.[1].trim() ?? '',
      id: (/\n\s+ID: (.*)/.exec(b)?.[1] ?? '').trim().replace(/:/g, '').toLowerCase(),
    }));
}

/** The certificate with this CKA_ID read off the token by pkcs11-tool, as a PEM file path. */
export function readCertificate(tok: TestToken, idHex: string): string {
  const der = path.join(tok.dir, `cert-${idHex}-${Date.now()}.der`);
  tok.pkcs11Tool(['--read-object', '--type', 'cert', '--id', idHex, '-o', der]);
  const pem = `${der}.pem`;
  execFileSync('openssl', ['x509', '-inform', 'DER', '-in', der, '-out', pem]);
  return pem;
}

export function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `ssh-keygen -D` key parts (type + base64) of the token's keys. */
export function sshKeygenD(tok: TestToken): string[] {
  const r = spawnSync('ssh-keygen', ['-D', tok.module], { env: tok.env, encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(' ').slice(0, 2).join(' '));
}

/** The authorized_keys key part of a PEM certificate, public or private key, converted by ssh-keygen. */
export function sshKeyPartOfPem(tok: TestToken, pem: string, kind: 'cert' | 'public' | 'private'): string {
  const spki =
    kind === 'cert'
      ? execFileSync('openssl', ['x509', '-in', pem, '-pubkey', '-noout'], { encoding: 'utf8' })
      : kind === 'private'
        ? execFileSync('openssl', ['pkey', '-in', pem, '-pubout'], { encoding: 'utf8' })
        : fs.readFileSync(pem, 'utf8');
  const file = path.join(tok.dir, `spki-${Date.now()}-${Math.random().toString(36).slice(2)}.pem`);
  fs.writeFileSync(file, spki);
  return execFileSync('ssh-keygen', ['-i', '-m', 'PKCS8', '-f', file], { encoding: 'utf8' }).trim().split(' ').slice(0, 2).join(' ');
}
