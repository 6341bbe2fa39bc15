// tt-agent fix-ids MODULE|URI [--dry-run] [--yes]
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import type { CommandModule } from 'yargs';
import type { Finding } from '../tools/fix-ids-plan';
import { applyIdFixes, inspectIds } from '../tools/fix-ids';
import { formatId } from '../tools/key-spec';
import { UserError } from './user-error';
import { inToolContext } from './tool-context';
import { openToolSession } from './tool-session';

interface FixIdsArgs {
  module: string;
  'dry-run'?: boolean;
  yes?: boolean;
  'pin-source'?: string;
}

export const command: CommandModule<object, FixIdsArgs> = {
  command: 'fix-ids <module>',
  describe: 'give certificates and public keys the CKA_ID of their private key, and repair empty or shared IDs',
  builder: (y) =>
    y
      .positional('module', { type: 'string', demandOption: true, describe: 'PKCS#11 module path, p11-kit module name, or pkcs11: URI' })
      .option('dry-run', { type: 'boolean', describe: 'only show what would change' })
      .option('yes', { alias: 'y', type: 'boolean', describe: 'change without asking' })
      .option('pin-source', { type: 'string', describe: 'read the user PIN from this file instead of asking' }),
  handler: async (argv) => {
    const dryRun = argv['dry-run'] === true;
    const ctx = { action: 'change CKA_IDs', command: 'fix-ids', spec: argv.module };
    try {
      const t = await openToolSession(argv.module, { write: !dryRun, pinSource: argv['pin-source'], command: 'fix-ids' });
      try {
        const { objects, plan } = await inspectIds(t.session, { contextPin: t.pin });
        const n = plan.changes.length;
        if (plan.findings.length === 0) {
          process.stdout.write(`token '${t.token.label}': ${objects.length} objects, every CKA_ID in order; nothing to change\n`);
          return;
        }
        process.stdout.write(formatTable(plan.findings, dryRun ? 'would set' : argv.yes ? 'set' : 'will set'));
        if (n === 0) {
          process.stdout.write(`nothing fix-ids can change on token '${t.token.label}'; the rows above need a person\n`);
          return;
        }
        if (dryRun) {
          process.stdout.write(`would change ${n} CKA_ID${n > 1 ? 's' : ''}; run without --dry-run to apply\n`);
          return;
        }
        if (!argv.yes && !(await confirm(`Change ${n} CKA_ID${n > 1 ? 's' : ''} on token '${t.token.label}'? [y/N] `))) {
          process.stdout.write('nothing changed\n');
          return;
        }
        const { applied, error } = applyIdFixes(t.session, plan);
        if (error) {
          const e = inToolContext(error, ctx);
          const why = e instanceof Error ? e.message : String(e);
          throw new UserError(
            `changed ${applied} of ${n} CKA_IDs, then: ${why}`,
            `Fix that and run fix-ids again; it continues from where the token is now.`,
            1,
            { cause: error },
          );
        }
        process.stdout.write(`changed ${applied} CKA_ID${applied > 1 ? 's' : ''}\n`);
      } finally {
        await t.close();
      }
    } catch (err) {
      throw inToolContext(err, ctx);
    }
  },
};

const KIND: Record<Finding['object']['kind'], string> = {
  'private-key': 'private key',
  'public-key': 'public key',
  certificate: 'certificate',
};

function formatTable(findings: Finding[], verb: string): string {
  const rows = findings.map((f) => [
    KIND[f.object.kind],
    f.object.label || '-',
    formatId(f.object.id),
    f.problem,
    f.change ? `${verb} ID ${formatId(f.change.to)}` : `left alone: ${f.leftAlone ?? ''}`,
  ]);
  const head = ['OBJECT', 'LABEL', 'ID', 'PROBLEM', 'ACTION'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

/** Asks on the terminal; without one the answer cannot be yes. */
async function confirm(question: string): Promise<boolean> {
  let fd: number;
  try {
    fd = fs.openSync('/dev/tty', 'r+');
  } catch {
    throw new UserError('fix-ids would change the token and there is no terminal to confirm on', 'Run it with --yes to apply, or with --dry-run to only look.', 2);
  }
  const input = new tty.ReadStream(fd);
  const output = new tty.WriteStream(fd);
  output.write(question);
  const answer = await new Promise<string>((resolve) => {
    input.once('data', (d: Buffer) => resolve(d.toString('utf8')));
    input.once('end', () => resolve(''));
  });
  input.destroy();
  output.destroy();
  return /^\s*y(es)?\s*$/i.test(answer);
}
