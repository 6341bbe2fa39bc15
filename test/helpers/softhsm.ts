// Fresh SoftHSM tokens for tests. Each call returns its own directory with its own
// softhsm2.conf and token store, so tests (and test files running in parallel processes)
// never share a token. Provisioning runs the real tools (softhsm2-util, pkcs11-tool,
// openssl) once per distinct spec: the result is kept as a template under the system temp
// dir and copied for every token, which keeps RSA key generation out of the test budget.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const SO_PIN = '12345678';
export const USER_PIN = '123456';

export type KeyKind = 'rsa:2048' | 'rsa:3072' | 'ec:prime256v1' | 'ec:secp384r1' | 'ec:secp521r1' | 'ed25519';

export interface KeySpec {
  kind: KeyKind;
  /** CKA_ID in hex */
  id: string;
  label: string;
  /** a public-key object next to the private key (default true) */
  publicObject?: boolean;
  /** a self-signed X.509 certificate for the key, under its own CKA_ID if `id` is given */
  cert?: { id?: string; label?: string; subject?: string };
}

export interface TokenSpec {
  label: string;
  keys?: KeySpec[];
}

/**
 * The standard set: every key type, an RSA key known only through its certificate (no
 * public-key object), and an EC key whose certificate carries another CKA_ID.
 */
export const STANDARD_KEYS: KeySpec[] = [
  { kind: 'rsa:2048', id: '01', label: 'rsa2048' },
  { kind: 'rsa:3072', id: '02', label: 'rsa3072' },
  { kind: 'ec:prime256v1', id: '03', label: 'p256' },
  { kind: 'ec:secp384r1', id: '04', label: 'p384' },
  { kind: 'ec:secp521r1', id: '05', label: 'p521' },
  { kind: 'ed25519', id: '06', label: 'ed25519' },
  { kind: 'rsa:2048', id: '10', label: 'cert-only', publicObject: false, cert: { subject: '/CN=cert-only' } },
  { kind: 'ec:prime256v1', id: '20', label: 'mismatch', cert: { id: '21', label: 'mismatch-cert', subject: '/CN=mismatch' } },
];

export const PRESETS = {
  /** one token 'tt-test' with STANDARD_KEYS */
  standard: [{ label: 'tt-test', keys: STANDARD_KEYS }],
  /** one initialized token without objects */
  empty: [{ label: 'empty' }],
  /** no initialized token: SoftHSM shows only its spare, uninitialized slot */
  uninitialized: [],
  /** two tokens in one module, one key each */
  twoTokens: [
    { label: 'first', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'first-p256' }] },
    { label: 'second', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'second-p256' }] },
  ],
} satisfies Record<string, TokenSpec[]>;

export interface MakeTokenOptions {
  /** a preset name or an explicit token list; default 'standard' */
  tokens?: keyof typeof PRESETS | TokenSpec[];
  /** set process.env.SOFTHSM2_CONF for in-process use (default true); restored by cleanup() */
  setEnv?: boolean;
}

export interface TestToken {
  dir: string;
  /** path of this token's softhsm2.conf */
  conf: string;
  /** environment for child processes: process.env plus SOFTHSM2_CONF */
  env: NodeJS.ProcessEnv;
  module: string;
  pin: string;
  soPin: string;
  tokens: TokenSpec[];
  /** PEM private keys of the keys made outside the token (those with certificates), by label */
  keyFiles: Record<string, string>;
  /** pkcs11-tool against this token store, output as text */
  pkcs11Tool(args: string[]): string;
  cleanup(): void;
}

// Bump when provisioning changes, so templates made by an older helper are not reused.
const TEMPLATE_VERSION = 1;

export function makeToken(options: MakeTokenOptions = {}): TestToken {
  const tokens = typeof options.tokens === 'string' ? PRESETS[options.tokens] : (options.tokens ?? PRESETS.standard);
  const template = templateFor(tokens);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-softhsm-'));
  fs.cpSync(path.join(template, 'tokens'), path.join(dir, 'tokens'), { recursive: true });
  fs.cpSync(path.join(template, 'keys'), path.join(dir, 'keys'), { recursive: true });
  const conf = writeConf(dir);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const keyFiles: Record<string, string> = {};
  for (const f of fs.readdirSync(path.join(dir, 'keys'))) keyFiles[f.replace(/\.pem$/, '')] = path.join(dir, 'keys', f);

  live.add(dir);
  const setEnv = options.setEnv ?? true;
  const previous = process.env.SOFTHSM2_CONF;
  if (setEnv) process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    conf,
    env,
    module: SOFTHSM_MODULE,
    pin: USER_PIN,
    soPin: SO_PIN,
    tokens,
    keyFiles,
    pkcs11Tool: (args) => execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    cleanup() {
      if (setEnv && process.env.SOFTHSM2_CONF === conf) {
        if (previous === undefined) delete process.env.SOFTHSM2_CONF;
        else process.env.SOFTHSM2_CONF = previous;
      }
      fs.rmSync(dir, { recursive: true, force: true });
      live.delete(dir);
    },
  };
}

// Tokens whose test forgot cleanup() (or failed before it) are removed when the process exits.
const live = new Set<string>();
process.on('exit', () => {
  for (const dir of live) fs.rmSync(dir, { recursive: true, force: true });
});

function writeConf(dir: string): string {
  const conf = path.join(dir, 'softhsm2.conf');
  fs.writeFileSync(
    conf,
    `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  return conf;
}

/** The provisioned template for a spec, made once per machine (until the temp dir is cleared). */
function templateFor(tokens: TokenSpec[]): string {
  const key = createHash('sha256').update(JSON.stringify({ v: TEMPLATE_VERSION, tokens })).digest('hex').slice(0, 16);
  const root = path.join(os.tmpdir(), 'tt-softhsm-templates');
  const final = path.join(root, key);
  if (fs.existsSync(path.join(final, 'done'))) return final;
  fs.mkdirSync(root, { recursive: true });
  // Built aside and renamed into place: parallel test processes may race to build the same
  // template, and rename(2) lets exactly one of them win without locks.
  const work = path.join(root, `${key}.${process.pid}.${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(path.join(work, 'tokens'), { recursive: true });
  fs.mkdirSync(path.join(work, 'keys'));
  try {
    provision(work, tokens);
    fs.writeFileSync(path.join(work, 'done'), '');
    try {
      fs.renameSync(work, final);
    } catch {
      fs.rmSync(work, { recursive: true, force: true }); // another process won the race
    }
  } catch (err) {
    fs.rmSync(work, { recursive: true, force: true });
    throw err;
  }
  return final;
}

function provision(dir: string, tokens: TokenSpec[]): void {
  const env = { ...process.env, SOFTHSM2_CONF: writeConf(dir) };
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const t of tokens) {
    run('softhsm2-util', ['--init-token', '--free', '--label', t.label, '--so-pin', SO_PIN, '--pin', USER_PIN]);
    const tool = (args: string[]) =>
      run('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', t.label, '--login', '--pin', USER_PIN, ...args]);
    for (const k of t.keys ?? []) {
      if (k.cert || k.publicObject === false) importKey(dir, k, tool, run);
      else tool(['--keypairgen', '--key-type', keygenType(k.kind), '--id', k.id, '--label', k.label]);
    }
  }
}

function keygenType(kind: KeyKind): string {
  // pkcs11-tool writes CKA_EC_PARAMS of edwards25519 as a PrintableString, a quirk we want covered.
  return kind === 'ed25519' ? 'EC:edwards25519' : kind.startsWith('rsa') ? kind : `EC:${kind.slice(3)}`;
}

/** A key made by openssl and imported, so that a certificate can be signed with it. */
function importKey(
  dir: string,
  k: KeySpec,
  tool: (args: string[]) => Buffer,
  run: (cmd: string, args: string[]) => Buffer,
): void {
  if (k.kind === 'ed25519') throw new Error('pkcs11-tool cannot import Ed25519 private keys; generate them on the token');
  const base = path.join(dir, 'keys', k.label);
  const pem = `${base}.pem`;
  const algo = k.kind.startsWith('rsa')
    ? ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${k.kind.slice(4)}`]
    : ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${k.kind.slice(3)}`];
  run('openssl', ['genpkey', ...algo, '-out', pem]);
  run('openssl', ['pkey', '-in', pem, '-outform', 'DER', '-out', `${base}.key.der`]);
  tool(['--write-object', `${base}.key.der`, '--type', 'privkey', '--id', k.id, '--label', k.label]);
  if (k.publicObject !== false) {
    run('openssl', ['pkey', '-in', pem, '-pubout', '-outform', 'DER', '-out', `${base}.pub.der`]);
    tool(['--write-object', `${base}.pub.der`, '--type', 'pubkey', '--id', k.id, '--label', k.label]);
  }
  if (k.cert) {
    const subject = k.cert.subject ?? `/CN=${k.label}`;
    run('openssl', ['req', '-x509', '-new', '-key', pem, '-subj', subject, '-days', '3650', '-outform', 'DER', '-out', `${base}.crt`]);
    tool(['--write-object', `${base}.crt`, '--type', 'cert', '--id', k.cert.id ?? k.id, '--label', k.cert.label ?? k.label]);
  }
  // Only the PEM is kept for tests; the DER copies were for pkcs11-tool.
  for (const f of [`${base}.key.der`, `${base}.pub.der`, `${base}.crt`]) fs.rmSync(f, { force: true });
}
