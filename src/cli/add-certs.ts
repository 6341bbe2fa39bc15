// `tt-agent add --cert FILE` / `--cert-dir DIR`: OpenSSH certificates for token keys, sent
// in the associated-certs-v00@openssh.com constraint (what OpenSSH 10's `ssh-add -s MODULE
// CERT...` sends). The agent matches each certificate to a key on the loaded tokens; here we
// read the files, leave out expired certificates, and afterwards say which ones were added.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CERT_FOREVER, decodeCertificate, type SshCertificate } from '../protocol/certificate';
import { UserError } from './user-error';

export interface CertFile {
  file: string;
  cert: SshCertificate;
  /** Named with --cert (a miss is worth a warning), not found in a --cert-dir. */
  named: boolean;
}

// As OpenSSH 10's ssh-add (CERT_EXPIRY_GRACE): a certificate expired longer ago is not sent.
const EXPIRY_GRACE_SECONDS = 5 * 60;

/** The certificates to send; notes (skipped files) go to `note`. */
export function readCertificates(files: string[], dirs: string[], note: (line: string) => void, now = Date.now()): CertFile[] {
  const out: CertFile[] = [];
  const keep = (c: CertFile) => {
    if (c.cert.validBefore !== CERT_FOREVER && (c.cert.validBefore + BigInt(EXPIRY_GRACE_SECONDS)) * 1000n <= BigInt(now)) {
      note(`certificate ${c.file} (key id "${c.cert.keyId}") expired on ${new Date(Number(c.cert.validBefore) * 1000).toISOString()}; not added`);
      return;
    }
    if (!out.some((o) => o.cert.blob.equals(c.cert.blob))) out.push(c);
  };
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new UserError(`cannot read certificate ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'Give the path of a *-cert.pub file.', 2);
    }
    try {
      keep({ file, cert: parseCertificateLine(text), named: true });
    } catch (err) {
      throw new UserError(`${file} is not an OpenSSH certificate: ${(err as Error).message}`, 'Give a *-cert.pub file as ssh-keygen -s writes it.', 2);
    }
  }
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((n) => n.endsWith('-cert.pub')).sort();
    } catch (err) {
      throw new UserError(`cannot read certificate directory ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'Give a directory that holds *-cert.pub files.', 2);
    }
    for (const name of names) {
      const file = path.join(dir, name);
      // Only regular files, never through a symlink: the directory may be shared.
      if (!fs.lstatSync(file).isFile()) continue;
      try {
        keep({ file, cert: parseCertificateLine(fs.readFileSync(file, 'utf8')), named: false });
      } catch (err) {
        note(`${file} skipped: ${(err as Error).message}`);
      }
    }
  }
  return out;
}

/** `<type> <base64> [comment]`, the *-cert.pub format. */
export function parseCertificateLine(text: string): SshCertificate {
  const fields = text.trim().split(/\s+/);
  if (fields.length < 2 || !/^[A-Za-z0-9+/]+={0,2}$/.test(fields[1])) throw new Error('no "<type> <base64>" line');
  const cert = decodeCertificate(Buffer.from(fields[1], 'base64'));
  if (cert.type !== fields[0]) throw new Error(`line says ${fields[0]} but the data is ${cert.type}`);
  return cert;
}

/** One line per certificate: added, or (for a --cert file) why not. */
export function reportCertificates(sent: CertFile[], listed: Buffer[], out: (line: string) => void, warn: (line: string) => void): void {
  for (const c of sent) {
    const what = `certificate ${c.file} (key id "${c.cert.keyId}")`;
    if (listed.some((b) => b.equals(c.cert.blob))) out(`${what}: added`);
    else if (c.named) warn(`${what} matches no key on the token; not added`);
  }
}

/**
 * The `certificate` and `certificate-dir` lines of ~/.config/tt-agent/config (man
 * tt-agent-config): certificates `tt-agent add` offers with every module it adds, as if named
 * with --cert / --cert-dir. A leading ~/ is the home directory.
 */
export async function configuredCertificates(): Promise<{ files: string[]; dirs: string[] }> {
  const { UseConfigSource, defaultUseConfigPath } = await import('../agent/use-config-file');
  const { UseConfigError } = await import('../agent/use-config');
  let source;
  try {
    source = new UseConfigSource(defaultUseConfigPath(), () => {});
  } catch (err) {
    if (!(err instanceof UseConfigError)) throw err;
    // The error's own words, with this command's name in the hint; a usage error here (exit 2).
    throw new UserError(err.message, 'Fix those lines (man tt-agent-config), then run tt-agent add again.', 2, { cause: err });
  }
  const home = (p: string) => (p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p);
  const config = source.current();
  return { files: config.certificates.map(home), dirs: config.certificateDirs.map(home) };
}

