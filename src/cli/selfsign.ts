// tt-agent selfsign MODULE|URI (--id HEX | --label L) [--subject S] [--days N] [--out F] [--force]
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CommandModule } from 'yargs';
import { CertificateNotStoredError } from '../tools/tool-errors';
import { formatId } from '../tools/key-spec';
import { selfSign, type SelfSignResult } from '../tools/selfsign';
import { checkDays, DEFAULT_DAYS, parseDistinguishedName } from '../x509';
import { UserError } from './user-error';
import { inToolContext, type ToolContext } from './tool-context';
import { parseHexId } from './token-target';
import { openToolSession } from './tool-session';

interface SelfsignArgs {
  module: string;
  id?: string;
  label?: string;
  subject?: string;
  days: number;
  out?: string;
  force?: boolean;
  'pin-source'?: string;
}

export const command: CommandModule<object, SelfsignArgs> = {
  command: 'selfsign <module>',
  describe: "write a self-signed X.509 certificate for a key on the token, signed by the token",
  builder: (y) =>
    y
      .positional('module', { type: 'string', demandOption: true, describe: 'PKCS#11 module path, p11-kit module name, or pkcs11: URI (id=/object= select the key)' })
      .option('id', { type: 'string', describe: "the key's CKA_ID in hex" })
      .option('label', { type: 'string', describe: "the key's CKA_LABEL" })
      .option('subject', { type: 'string', describe: 'subject and issuer, e.g. "CN=alice,O=Example" (default CN=<label>)' })
      .option('days', { type: 'number', default: DEFAULT_DAYS, describe: 'days of validity from now' })
      .option('out', { type: 'string', requiresArg: true, describe: 'also write the certificate as PEM to this file (- for stdout)' })
      .option('force', { type: 'boolean', describe: 'replace a certificate already stored for the key' })
      .option('pin-source', { type: 'string', describe: 'read the user PIN from this file instead of asking' }),
  handler: async (argv) => {
    const ctx = { action: 'write the certificate', command: 'selfsign', spec: argv.module };
    try {
      const id = argv.id !== undefined ? parseHexId(argv.id) : undefined;
      checkDays(argv.days);
      if (argv.subject !== undefined) parseDistinguishedName(argv.subject);
      if (argv.out !== undefined) checkOutPath(argv.out);
      const t = await openToolSession(argv.module, { write: true, pinSource: argv['pin-source'], command: 'selfsign' });
      try {
        const selector = { id: id ?? t.target.uri?.id, label: argv.label ?? t.target.uri?.object };
        if (!selector.id && selector.label === undefined) {
          throw new UserError('selfsign needs to know which key: give --id or --label', `tt-agent list ${argv.module} shows the keys.`, 2);
        }
        const result = await selfSign(t.session, { ...selector, subject: argv.subject, days: argv.days, force: argv.force, contextPin: t.pin }).catch(
          (err) => {
            throw keepRefusedCertificate(err, argv.out, ctx);
          },
        );
        reportCertificate(result);
        if (argv.out !== undefined) writeOut(argv.out, result.certificate.pem);
      } finally {
        await t.close();
      }
    } catch (err) {
      throw inToolContext(err, ctx);
    }
  },
};

/**
 * A token that will not store certificates (PIV cards through OpenSC) still gets a good
 * certificate out of selfsign: with --out it is saved for the card's own import tool.
 */
export function keepRefusedCertificate(err: unknown, out: string | undefined, ctx: ToolContext): unknown {
  if (!(err instanceof CertificateNotStoredError) || out === undefined) return err;
  writeOut(out, err.pem);
  const inner = inToolContext(err.cause, ctx);
  const why = inner instanceof Error ? inner.message : String(inner);
  const where = out === '-' ? 'stdout' : out;
  return new UserError(
    `${why}; the signed certificate was written to ${where} only`,
    `Import it with the token's own tool, e.g. yubico-piv-tool -a import-certificate -s 9a -i ${out === '-' ? 'cert.pem' : out}.`,
    1,
    { cause: err },
  );
}

/** Says on stderr what was written (stdout stays free for `--out -`). */
export function reportCertificate(r: SelfSignResult): void {
  const c = r.certificate;
  const id = formatId(r.key.objects.privateKey!.id);
  let line = `tt-agent: wrote certificate for key ID ${id}: subject "${r.subject}", serial ${c.serialHex}, valid until ${c.notAfter.toISOString().slice(0, 10)}`;
  if (r.replaced > 0) line += ` (replaced ${r.replaced} older certificate${r.replaced > 1 ? 's' : ''})`;
  process.stderr.write(`${line}\n`);
  for (const why of r.leftOver) {
    process.stderr.write(`tt-agent: warning: an older certificate for ID ${id} could not be removed: ${why}\n`);
  }
}

/** Fails before the token is touched when --out cannot be written. */
export function checkOutPath(out: string): void {
  if (out === '-') return;
  const dir = path.dirname(path.resolve(out));
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    if (fs.existsSync(out) && fs.statSync(out).isDirectory()) throw new Error('is a directory');
  } catch (err) {
    throw new UserError(`cannot write --out ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'Give a file in a writable directory.', 2);
  }
}

export function writeOut(out: string, pem: string): void {
  if (out === '-') process.stdout.write(pem);
  else fs.writeFileSync(out, pem);
}
