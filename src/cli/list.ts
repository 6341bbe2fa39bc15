// `tt-agent list [MODULE|URI]`: each token and its keys, as an aligned table or --json.
import type { Argv, CommandModule } from 'yargs';
import { findKeyPairs, selectKeyPairs, slotName, type KeyPair, type SlotInfo, type Token } from '../pkcs11';
import { fingerprintSha256 } from '../protocol/fingerprint';
import { encodePublicKeyBlob } from '../protocol/key-blob';
import { keyBits, sshKeyType } from '../protocol/public-key';
import { listTokenObjects } from '../pkcs11/objects';
import { adviseIdFixes } from '../tools/fix-ids-advice';
import { examplesEpilog } from './help-examples';
import { openTarget } from './token-target';

interface ListArgs {
  module?: string;
  json?: boolean;
}

export interface KeyListing {
  type: string;
  /** bits of an RSA modulus, or of the curve */
  bits?: number;
  curve?: string;
  sshType?: string;
  id: string;
  label: string;
  /** null: not visible without login */
  privateKey: boolean | null;
  publicKeyObject: boolean;
  certificate: boolean;
  certSubject?: string;
  canSign: boolean | null;
  alwaysAuthenticate: boolean;
  fingerprint?: string;
  problems: { code: string; message: string }[];
}

export interface TokenListing {
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
  slot: string;
  flags: {
    loginRequired: boolean;
    protectedAuthenticationPath: boolean;
    userPinCountLow: boolean;
    userPinFinalTry: boolean;
    userPinLocked: boolean;
    userPinToBeChanged: boolean;
  };
  loggedIn: boolean;
  keys: KeyListing[];
}

export interface ModuleListing {
  module: string;
  tokens: TokenListing[];
  uninitializedSlots: string[];
}

export const command: CommandModule<object, ListArgs> = {
  command: 'list [module]',
  describe: "list tokens and the keys on them; with no module and an agent running, the agent's keys",
  builder: (y: Argv<object>) =>
    y
      .usage(
        'tt-agent list [module]\n\n' +
          "With MODULE (or URI): that module's tokens and their keys; pairing problems are marked !.\n" +
          "With no MODULE and an agent at $SSH_AUTH_SOCK: the agent's keys (as ssh-add -l) and their tokens.\n" +
          'With neither: the tokens of $TT_AGENT_MODULE, else OpenSC.',
      )
      .positional('module', {
        type: 'string',
        describe: "PKCS#11 module path, p11-kit module name, or pkcs11: URI (default: the agent's keys when $SSH_AUTH_SOCK is set, else $TT_AGENT_MODULE, else OpenSC)",
      })
      .option('json', { type: 'boolean', describe: 'machine-readable output' })
      .epilog(
        examplesEpilog([
          ['tt-agent list', "the running agent's keys and where each lives"],
          ['tt-agent list opensc', 'the card and its keys (private keys show as ? until logged in)'],
          ["tt-agent list 'pkcs11:token=work?module-name=softhsm2&pin-source=file:/run/pin'", 'one token, logged in to see its private keys'],
        ]),
      ) as Argv<ListArgs>,
  handler: async (argv) => {
    // Hook for the agent's side: with no module and an agent in the environment, list the
    // agent's identities (like ssh-add -l) instead of a token. The agent commands provide
    // ./agent-identities exporting
    //   listAgentIdentities({ json, socketPath }): Promise<number>  (the exit status)
    // and until that file exists this falls through to the default module.
    if (argv.module === undefined && process.env.SSH_AUTH_SOCK) {
      const agentSide = loadAgentIdentities();
      if (agentSide) {
        process.exitCode = await agentSide({ json: argv.json === true, socketPath: process.env.SSH_AUTH_SOCK });
        return;
      }
    }
    const listing = collectListing(argv.module, (line) => process.stderr.write(`tt-agent: ${line}\n`));
    process.stdout.write(argv.json ? `${JSON.stringify(listing, null, 2)}\n` : renderTable(listing));
  },
};

type AgentLister = (opts: { json: boolean; socketPath: string }) => Promise<number>;

function loadAgentIdentities(): AgentLister | undefined {
  try {
    require.resolve('./agent-identities');
  } catch {
    return undefined;
  }
  return require('./agent-identities').listAgentIdentities as AgentLister;
}

export function collectListing(spec: string | undefined, note: (line: string) => void): ModuleListing {
  const target = openTarget(spec, note);
  try {
    const tokens: TokenListing[] = [];
    for (const token of target.tokens) {
      const session = token.openSession();
      try {
        if (target.pin) session.login(target.pin);
        // With the private keys in view, the fix-ids planner decides the CKA_ID advice.
        const found = findKeyPairs(session);
        const visible = session.loggedIn || !token.info.loginRequired;
        const pairs = selectKeyPairs(visible ? adviseIdFixes(found, listTokenObjects(session)) : found, target.uri);
        tokens.push(tokenListing(token, session.loggedIn, pairs));
      } finally {
        void session.close();
      }
    }
    return {
      module: target.module.path,
      tokens,
      uninitializedSlots: target.module.scan().uninitialized.map((s: SlotInfo) => slotName(s)),
    };
  } finally {
    target.module.close();
  }
}

function tokenListing(token: Token, loggedIn: boolean, pairs: KeyPair[]): TokenListing {
  const i = token.refreshInfo();
  const hidden = !loggedIn && i.loginRequired;
  return {
    label: i.label,
    serial: i.serial,
    manufacturer: i.manufacturer,
    model: i.model,
    slot: slotName(token.slot),
    flags: {
      loginRequired: i.loginRequired,
      protectedAuthenticationPath: i.protectedAuthenticationPath,
      userPinCountLow: i.userPinCountLow,
      userPinFinalTry: i.userPinFinalTry,
      userPinLocked: i.userPinLocked,
      userPinToBeChanged: i.userPinToBeChanged,
    },
    loggedIn,
    keys: pairs.map((p) => keyListing(p, hidden)),
  };
}

function keyListing(p: KeyPair, hidden: boolean): KeyListing {
  const pk = p.publicKey;
  const privateKey = p.privateKey ? true : hidden ? null : false;
  return {
    type: p.keyType,
    bits: pk ? keyBits(pk) : undefined,
    curve: pk?.kind === 'ecdsa' ? pk.curve : pk?.kind === 'ed25519' ? 'ed25519' : undefined,
    sshType: pk ? sshKeyType(pk) : undefined,
    id: p.id.toString('hex'),
    label: p.label,
    privateKey,
    publicKeyObject: p.publicKeyObject !== undefined,
    certificate: p.certificate !== undefined,
    certSubject: p.certSubject,
    canSign: privateKey === null ? null : p.canSign,
    alwaysAuthenticate: p.alwaysAuthenticate,
    fingerprint: pk ? fingerprintSha256(encodePublicKeyBlob(pk)) : undefined,
    // Hidden private keys are a property of the listing, said once per token, not a problem of each key.
    problems: p.issues.filter((x) => x.code !== 'private-key-hidden'),
  };
}

export function renderTable(listing: ModuleListing): string {
  const lines: string[] = [];
  for (const t of listing.tokens) {
    lines.push(`Token '${t.label}'  serial ${t.serial}  ${t.manufacturer} / ${t.model}  (${t.slot})`);
    lines.push(`  flags: ${tokenFlags(t) || 'none'}`);
    if (t.keys.length === 0) {
      lines.push('  no keys');
    } else {
      const rows = [['TYPE', 'ID', 'LABEL', 'PRIV', 'PUB', 'CERT', 'SIGN', 'NOTES']];
      for (const k of t.keys) {
        rows.push([
          keyTypeText(k),
          k.id || '(empty)',
          k.label || (k.certSubject ?? ''),
          yesNo(k.privateKey),
          yesNo(k.publicKeyObject),
          yesNo(k.certificate),
          yesNo(k.canSign),
          k.problems.map((p) => `! ${p.message}`).join('; '),
        ]);
      }
      lines.push(...align(rows).map((r) => `  ${r}`));
    }
    if (!t.loggedIn && t.flags.loginRequired) {
      lines.push("  (private keys are not visible without login: '?'; give the PIN with a URI, e.g. 'pkcs11:token=...?pin-source=file:/path')");
    }
    lines.push('');
  }
  for (const s of listing.uninitializedSlots) lines.push(`${s}: token not initialized (skipped)`);
  return lines.join('\n').replace(/\n*$/, '\n');
}

function tokenFlags(t: TokenListing): string {
  const f = t.flags;
  return [
    f.loginRequired && 'login required',
    f.protectedAuthenticationPath && 'PIN pad',
    f.userPinCountLow && 'PIN count low',
    f.userPinFinalTry && 'PIN final try',
    f.userPinLocked && 'PIN locked',
    f.userPinToBeChanged && 'PIN must be changed',
  ]
    .filter(Boolean)
    .join(', ');
}

function keyTypeText(k: KeyListing): string {
  if (k.type === 'rsa') return k.bits ? `RSA ${k.bits}` : 'RSA';
  if (k.type === 'ed25519') return 'Ed25519';
  if (k.type === 'ec') return k.bits ? `ECDSA P-${k.bits}` : 'ECDSA';
  return k.type;
}

function yesNo(v: boolean | null): string {
  return v === null ? '?' : v ? 'yes' : '-';
}

function align(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
}
