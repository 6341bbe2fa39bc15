// tt-agent keygen MODULE|URI --type T [--id HEX] [--label L] [--selfsign [--subject S] [--days N] [--out F]]
import type { CommandModule } from 'yargs';
import { freeKeyId, generateKeyPair, keyGenSupport } from '../pkcs11/keygen';
import type { Token } from '../pkcs11/token';
import { listTokenObjects } from '../pkcs11/objects';
import { authorizedKeysLine } from '../protocol/authorized-keys';
import { ToolError } from '../tools/tool-errors';
import { describeKeySpec, formatId, KEY_TYPES, parseKeySpec, type KeySpec } from '../tools/key-spec';
import { selfSign } from '../tools/selfsign';
import { checkDays, DEFAULT_DAYS, parseDistinguishedName } from '../x509';
import { UserError } from './user-error';
import { inToolContext } from './tool-context';
import { checkOutPath, keepRefusedCertificate, reportCertificate, writeOut } from './selfsign';
import { parseHexId } from './token-target';
import { openToolSession } from './tool-session';

interface KeygenArgs {
  module: string;
  type: string;
  id?: string;
  label?: string;
  selfsign?: boolean;
  subject?: string;
  days?: number;
  out?: string;
  'pin-source'?: string;
}

export const command: CommandModule<object, KeygenArgs> = {
  command: 'keygen <module>',
  describe: 'generate a key pair on the token and print its authorized_keys line',
  builder: (y) =>
    y
      .positional('module', { type: 'string', demandOption: true, describe: 'PKCS#11 module path, p11-kit module name, or pkcs11: URI' })
      .option('type', { type: 'string', choices: KEY_TYPES, demandOption: true, describe: 'key type and size' })
      .option('id', { type: 'string', describe: 'CKA_ID in hex (default: the smallest free one, from 01)' })
      .option('label', { type: 'string', describe: 'CKA_LABEL (default: ssh-key-<ID>)' })
      .option('selfsign', { type: 'boolean', describe: 'also write a self-signed certificate for the key' })
      .option('subject', { type: 'string', describe: 'with --selfsign: subject, e.g. "CN=alice,O=Example" (default CN=<label>)' })
      .option('days', { type: 'number', describe: `with --selfsign: days of validity (default ${DEFAULT_DAYS})` })
      .option('out', { type: 'string', requiresArg: true, describe: 'with --selfsign: also write the certificate as PEM to this file (- for stdout)' })
      .option('pin-source', { type: 'string', describe: 'read the user PIN from this file instead of asking' }),
  handler: async (argv) => {
    const spec = parseKeySpec(argv.type)!; // yargs checked the choice
    if (!argv.selfsign && (argv.subject !== undefined || argv.days !== undefined || argv.out !== undefined)) {
      throw new UserError('--subject, --days and --out only apply with --selfsign', 'Add --selfsign, or leave them out.', 2);
    }
    const ctx = { action: 'generate the key pair', command: 'keygen', spec: argv.module };
    try {
      // Everything the user typed is checked before the token is touched.
      const wantedId = argv.id !== undefined ? parseHexId(argv.id) : undefined;
      if (argv.label !== undefined && argv.label.trim() === '') throw new UserError('--label is empty', 'Give a label, or leave --label out.', 2);
      if (argv.selfsign) {
        checkDays(argv.days ?? DEFAULT_DAYS);
        if (argv.subject !== undefined) parseDistinguishedName(argv.subject);
        if (argv.out !== undefined) checkOutPath(argv.out);
      }
      const t = await openToolSession(argv.module, {
        write: true,
        pinSource: argv['pin-source'],
        command: 'keygen',
        beforeLogin: (token) => checkKeyGenSupport(token, spec),
      });
      try {
        let id = wantedId;
        if (id) {
          const taken = listTokenObjects(t.session).find((o) => o.id.equals(id!));
          if (taken) {
            throw new ToolError('id-taken', `ID ${formatId(id)} is already used on token '${t.token.label}' (by the ${taken.kind.replace('-', ' ')} "${taken.label}")`);
          }
        } else {
          id = freeKeyId(t.session);
        }
        const label = argv.label ?? `ssh-key-${id.toString('hex')}`;
        const key = await generateKeyPair(t.session, { spec, id, label });
        process.stderr.write(`tt-agent: generated ${describeKeySpec(spec)} key on token '${t.token.label}': ID ${formatId(id)}, label "${label}"\n`);
        process.stdout.write(`${authorizedKeysLine(key.publicKey, label)}\n`);
        if (argv.selfsign) {
          try {
            const result = await selfSign(t.session, { id, subject: argv.subject, days: argv.days, contextPin: t.pin }).catch(
              (err) => {
                throw keepRefusedCertificate(err, argv.out, { ...ctx, action: 'write the certificate' });
              },
            );
            reportCertificate(result);
            if (argv.out !== undefined) writeOut(argv.out, result.certificate.pem);
          } catch (err) {
            const e = inToolContext(err, { ...ctx, action: 'write the certificate' });
            const why = e instanceof Error ? e.message : String(e);
            throw new UserError(
              `the key was generated (ID ${formatId(id)}), but no certificate was written: ${why}`,
              `Fix that, then run: tt-agent selfsign ${argv.module} --id ${id.toString('hex')}`,
              1,
              { cause: err },
            );
          }
        }
      } finally {
        await t.close();
      }
    } catch (err) {
      throw inToolContext(err, ctx);
    }
  },
};

/**
 * Before any PIN is spent on a card that cannot do it: PIV cards (through OpenSC) and many other
 * smart cards offer no key-pair generation mechanism at all and generate keys only with their
 * own administration tools.
 */
function checkKeyGenSupport(token: Token, spec: KeySpec): void {
  const can = keyGenSupport(token);
  const offered = KEY_TYPES.filter((t) => can[parseKeySpec(t)!.kind]);
  if (offered.length === 0) {
    throw new UserError(
      `token '${token.label}' cannot generate keys through PKCS#11 (it offers no key-pair generation mechanism)`,
      "Generate the key with the card's own tool (e.g. yubico-piv-tool -a generate -s 9a), then use tt-agent selfsign and pubkey with it.",
    );
  }
  if (!can[spec.kind]) {
    throw new UserError(
      `token '${token.label}' cannot generate ${describeKeySpec(spec)} keys`,
      `It can generate: ${offered.join(', ')}.`,
    );
  }
}
