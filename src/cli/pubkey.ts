// `tt-agent pubkey [MODULE|URI]`: the token's public keys as authorized_keys lines (the key
// part byte-identical to `ssh-keygen -D`), as `ssh-keygen -l` fingerprints, or as PEM.
import type { Argv, CommandModule } from 'yargs';
import { examplesEpilog } from './help-examples';
import { findKeyPairs, publicKeyToPem, selectKeyPairs, type KeyPair } from '../pkcs11';
import { authorizedKeysLine } from '../protocol/authorized-keys';
import { fingerprintSha256 } from '../protocol/fingerprint';
import { encodePublicKeyBlob } from '../protocol/key-blob';
import { keyBits, type PublicKey } from '../protocol/public-key';
import { UserError } from './user-error';
import { openTarget, parseHexId } from './token-target';

interface PubkeyArgs {
  module?: string;
  id?: string;
  label?: string;
  fingerprint?: boolean;
  format: 'ssh' | 'pem';
}

export const command: CommandModule<object, PubkeyArgs> = {
  command: 'pubkey [module]',
  describe: "print the token's public keys as authorized_keys lines",
  builder: (y: Argv<object>) =>
    y
      .positional('module', {
        type: 'string',
        describe: 'PKCS#11 module path, p11-kit module name, or pkcs11: URI (default: $TT_AGENT_MODULE, else OpenSC)',
      })
      .option('id', { type: 'string', describe: 'only the key with this CKA_ID (hex)' })
      .option('label', { type: 'string', describe: 'only keys with this label' })
      .option('fingerprint', { alias: 'l', type: 'boolean', describe: 'print SHA256 fingerprints as ssh-keygen -l does' })
      .option('format', { choices: ['ssh', 'pem'] as const, default: 'ssh' as const, describe: 'ssh: authorized_keys lines; pem: SubjectPublicKeyInfo' })
      .epilog(
        examplesEpilog([
          ['tt-agent pubkey opensc >> ~/.ssh/authorized_keys', ''],
          ["tt-agent pubkey 'pkcs11:token=alice;id=%01?module-name=opensc-pkcs11'", ''],
        ]),
      ) as Argv<PubkeyArgs>,
  handler: async (argv) => {
    process.stdout.write(runPubkey(argv, (line) => process.stderr.write(`tt-agent: ${line}\n`)));
  },
};

/** The command's output; warnings about skipped keys go to `note`. */
export function runPubkey(argv: PubkeyArgs, note: (line: string) => void): string {
  const id = argv.id !== undefined ? parseHexId(argv.id) : undefined;
  const target = openTarget(argv.module, note);
  const out: string[] = [];
  let matched = 0;
  try {
    for (const token of target.tokens) {
      const session = token.openSession();
      try {
        if (target.pin) session.login(target.pin);
        const seen = new Set<string>();
        for (const pair of selectKeyPairs(findKeyPairs(session), target.uri)) {
          if (id && !objectIds(pair).some((i) => i.equals(id))) continue;
          if (argv.label !== undefined && !objectLabels(pair).includes(argv.label)) continue;
          matched++;
          if (!pair.publicKey) {
            note(`key '${pair.label}' (CKA_ID ${pair.id.toString('hex') || 'empty'}) on '${token.label}' skipped: ${pair.problems.join('; ')}`);
            continue;
          }
          const blob = encodePublicKeyBlob(pair.publicKey);
          if (seen.has(blob.toString('base64'))) continue;
          seen.add(blob.toString('base64'));
          out.push(render(pair.publicKey, blob, comment(pair), argv));
        }
      } finally {
        void session.close();
      }
    }
  } finally {
    target.module.close();
  }
  if (out.length === 0) {
    const where = target.tokens.map((t) => `'${t.label}'`).join(', ');
    const what = id || argv.label !== undefined || target.uri?.id || target.uri?.object ? 'no matching public key' : 'no public keys';
    throw new UserError(
      `${what} on token ${where}${matched > 0 ? ' (keys found, but their public keys are unknown)' : ''}`,
      'See what the token holds with: tt-agent list ' + (argv.module ?? ''),
    );
  }
  return out.join('');
}

function render(pk: PublicKey, blob: Buffer, text: string, argv: PubkeyArgs): string {
  if (argv.fingerprint) {
    // ssh-keygen -l: "<bits> <fingerprint> <comment> (<TYPE>)"
    const type = pk.kind === 'rsa' ? 'RSA' : pk.kind === 'ecdsa' ? 'ECDSA' : 'ED25519';
    return `${keyBits(pk)} ${fingerprintSha256(blob)} ${text || 'no comment'} (${type})\n`;
  }
  if (argv.format === 'pem') return publicKeyToPem(pk);
  return `${authorizedKeysLine(pk, text)}\n`;
}

// OpenSSH's rule, the one the agent's key comments follow too (KeyPair.comment).
function comment(pair: KeyPair): string {
  return pair.comment;
}

function objectIds(pair: KeyPair): Buffer[] {
  const o = pair.objects;
  return [o.privateKey, o.publicKeyObject, o.certificate].filter((x) => x !== undefined).map((x) => x.id);
}

function objectLabels(pair: KeyPair): string[] {
  const o = pair.objects;
  return [o.privateKey, o.publicKeyObject, o.certificate].filter((x) => x !== undefined).map((x) => x.label);
}
