// `tt-agent add [MODULE|URI] [-t LIFE] [-c] [-h DEST [-H FILE]] [--cert FILE] [--no-pin]`: what
// `ssh-add -s MODULE` does — one SSH_AGENTC_ADD_SMARTCARD_KEY(_CONSTRAINED) with the PIN
// inside (to a tt-agent as add-smartcard@tt-agent, whose refusal carries the agent's reason) —
// and then the agent's status@tt-agent report for the module says per token what was added and
// why something was not. What can be checked without the token is checked before the PIN prompt.
import * as path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { examplesEpilog } from './help-examples';
import type { KeyConstraint } from '../protocol/constraints';
import type { CertFile } from './add-certs';
import { AgentClient, queryAgentStatus } from './agent-client';
import { preflight, requestAdd } from './add-request';
import { shellWord } from '../hint';
import { UserError } from './user-error';
import { checkModuleFile } from './module-check';

interface AddArgs {
  module?: string;
  lifetime?: string;
  confirm?: boolean;
  destination?: string | string[];
  knownHosts?: string | string[];
  pin?: boolean;
  rememberPin?: boolean;
  cert?: string | string[];
  certDir?: string | string[];
  certOnly?: boolean;
}

/** What status@tt-agent says about a module's last load (see the report's note to the agent side). */
interface LoadReportLine {
  token: string;
  serial: string;
  added: number;
  error?: { ckr?: string; message: string };
}
interface StatusForAdd {
  providers?: { modulePath: string; tokens?: LoadReportLine[] }[];
  refusals?: { requested: string; realPath?: string; reason: string }[];
  loadReports?: { modulePath: string; at: string; tokens: LoadReportLine[]; error?: string }[];
}

export const command: CommandModule<object, AddArgs> = {
  command: 'add [module]',
  describe: "load a token's keys into the running agent (like ssh-add -s)",
  builder: (y: Argv<object>) =>
    y
      .positional('module', {
        type: 'string',
        describe: 'PKCS#11 module path, p11-kit module name, or pkcs11: URI selecting the token (default: $TT_AGENT_MODULE, else OpenSC)',
      })
      .option('t', { alias: 'lifetime', type: 'string', describe: 'remove the keys after this time (seconds, or 30m, 8h, 1d)' })
      .option('c', { alias: 'confirm', type: 'boolean', describe: 'ask for confirmation (SSH_ASKPASS) before each use' })
      // -h is ssh-add's destination flag here, so help is --help only for this command.
      .help('help')
      .option('h', {
        alias: 'destination',
        type: 'string',
        describe: 'allow the keys only for logins to this host: [USER@]HOST or FROM>[USER@]HOST (repeatable), as ssh-add -h',
      })
      .option('H', {
        alias: 'known-hosts',
        type: 'string',
        requiresArg: true,
        describe: 'known_hosts file to look the -h hosts up in (repeatable; default: ~/.ssh/known_hosts{,2}, /etc/ssh/ssh_known_hosts{,2})',
      })
      .option('pin', { type: 'boolean', default: true, describe: 'ask for the PIN; --no-pin loads public keys only and logs in later' })
      .option('remember-pin', { type: 'boolean', describe: 'store the PIN in the OS keyring for the tokens that loaded (tt-agent forget-pin removes it)' })
      .option('cert', {
        type: 'string',
        requiresArg: true,
        describe: 'an OpenSSH certificate (*-cert.pub) for a key on the token, added next to it (repeatable), as ssh-add -s MODULE CERT',
      })
      .option('cert-dir', { type: 'string', requiresArg: true, describe: 'add every *-cert.pub in this directory whose key is on the token (repeatable)' })
      .option('C', { alias: 'cert-only', type: 'boolean', describe: 'add only the certificates, not the plain token keys (as ssh-add -C)' })
      .epilog(
        examplesEpilog([
          ['tt-agent add opensc', "the card's keys, asking for its PIN"],
          ["tt-agent add 'pkcs11:token=work?module-name=softhsm2' -t 8h", 'one token of a module, for eight hours'],
          ["tt-agent add opensc -h git.example.org -h 'jump.example.org>db.example.org'", 'usable only for those logins'],
          ['tt-agent add opensc --cert ~/.ssh/card-cert.pub', "the card's keys and the CA's certificate for one of them"],
        ]),
      ) as Argv<AddArgs>,
  handler: async (argv) => {
    const destinationMissing = asList(argv.destination).some((d) => d === '');
    if (destinationMissing) {
      throw new UserError('-h needs a destination ([USER@]HOST); here -h is ssh-add\'s destination flag, not help', "Run 'tt-agent add --help' for the options.", 2);
    }
    const { resolveModuleSpec } = await import('../pkcs11/resolve');
    const resolved = resolveModuleSpec(argv.module);
    if (resolved.source === 'default' || resolved.source === 'env') {
      process.stderr.write(`tt-agent: using PKCS#11 module ${resolved.modulePath}${resolved.source === 'env' ? ' (from TT_AGENT_MODULE)' : ' (default)'}\n`);
    }
    const modulePath = path.resolve(resolved.modulePath);
    const readerId = resolved.uri ? withModulePath(resolved.uri.text, modulePath) : modulePath;
    const constraints = await buildConstraints(argv);
    const certs = await certificateConstraint(argv, constraints);

    // Everything that can fail without the token is checked before the PIN is asked for.
    await checkModuleFile(modulePath);
    // Connect first: no point asking for a PIN when there is no agent to hand it to.
    const client = await AgentClient.connect();
    let pin: Buffer;
    try {
      await preflight(client.socketPath, modulePath);
      pin = argv.pin === false ? Buffer.alloc(0) : await askPin(resolved.uri?.token ?? path.basename(modulePath));
    } catch (err) {
      client.close();
      throw err;
    }
    let outcome;
    try {
      outcome = await requestAdd(client, { readerId, pin, constraints }, 180_000);
    } catch (err) {
      pin.fill(0);
      throw err;
    } finally {
      client.close();
    }
    const status = await queryAgentStatus<StatusForAdd>(client.socketPath, { timeoutMs: 5000 });
    const last = await lastReport(status, modulePath);
    const report = last.tokens;
    if (outcome.ok) {
      printReport(report, modulePath);
      if (certs.length > 0) await reportCerts(client.socketPath, certs);
      if (argv.rememberPin && pin.length > 0) await rememberFor(report, pin);
      pin.fill(0);
      return;
    }
    pin.fill(0);
    // For hints that name the module: `tt-agent list URI` would show no token when the URI matches none.
    const spec = shellWord(resolved.uri || argv.module === undefined ? modulePath : argv.module);
    // A token that refused (a wrong PIN): its own words, said once; the other tokens' lines above it.
    // Only when this load reached the tokens: the last report may be an older load's. It is this
    // one's when the agent recorded with it the very refusal it sent.
    const failed = report?.find((l) => l.error);
    if (report && failed && (outcome.reason === undefined || outcome.reason === last.error)) {
      printReport(report.filter((l) => l !== failed), modulePath);
      const pinProblem = failed.error?.ckr?.startsWith('CKR_PIN_');
      throw new UserError(
        failed.error!.message,
        pinProblem ? 'Check the PIN and run tt-agent add again; nothing was retried.' : `tt-agent status shows the token state; tt-agent list ${spec} shows its keys.`,
      );
    }
    if (outcome.reason !== undefined) {
      // The agent names the URI as it received it, with the module-path this side added.
      const reason = resolved.uri ? outcome.reason.split(readerId).join(resolved.uri.text) : outcome.reason;
      // The agent's own hint; an older agent sends none.
      throw new UserError(reason, outcome.hint ?? 'tt-agent status shows the token state; the agent log has the details.');
    }
    const refusal = status?.refusals?.filter((r) => r.requested === readerId || r.requested === modulePath || r.realPath === modulePath).at(-1);
    if (refusal) {
      throw new UserError(refusal.reason, 'Start the agent with -P covering that path, or use a module inside the allowlist.');
    }
    throw new UserError(
      `the agent refused to add keys from ${modulePath}`,
      'It gives no reason: see its log, or tt-agent status when it is a tt-agent.',
    );
  },
};

/** The agent names the module by the URI's module-path query attribute (RFC 7512 section 2.4). */
function withModulePath(uriText: string, modulePath: string): string {
  if (/[?&]module-path=/.test(uriText)) return uriText;
  const encoded = encodeURIComponent(modulePath).replace(/%2F/g, '/');
  return `${uriText}${uriText.includes('?') ? '&' : '?'}module-path=${encoded}`;
}

/** --cert / --cert-dir / -C: the associated-certs constraint, appended last (as ssh-add does). */
async function certificateConstraint(argv: AddArgs, constraints: KeyConstraint[]): Promise<CertFile[]> {
  const { configuredCertificates } = await import('./add-certs');
  const configured = await configuredCertificates();
  const files = [...asList(argv.cert), ...configured.files];
  const dirs = [...asList(argv.certDir), ...configured.dirs];
  if (files.length === 0 && dirs.length === 0) {
    if (argv.certOnly) throw new UserError('-C adds only certificates, but no --cert or --cert-dir was given', 'Name the certificates with --cert FILE or --cert-dir DIR.', 2);
    return [];
  }
  const { readCertificates } = await import('./add-certs');
  const certs = readCertificates(files, dirs, (line) => process.stderr.write(`tt-agent: ${line}\n`));
  if (certs.length === 0) {
    if (argv.certOnly) throw new UserError('no usable certificate to add', 'Check the --cert files or the --cert-dir directory.', 2);
    return [];
  }
  constraints.push({ kind: 'associated-certs', certOnly: argv.certOnly === true, certs: certs.map((c) => c.cert.blob) });
  return certs;
}

/** Which of the certificates the agent now lists (the reply to the add does not say). */
async function reportCerts(socketPath: string, certs: CertFile[]): Promise<void> {
  const { reportCertificates } = await import('./add-certs');
  const client = await AgentClient.connect(socketPath);
  try {
    const reply = await client.call({ type: 'SSH_AGENTC_REQUEST_IDENTITIES' }, 'SSH_AGENT_IDENTITIES_ANSWER');
    const listed = reply.type === 'SSH_AGENT_IDENTITIES_ANSWER' ? reply.identities.map((i) => i.blob) : [];
    reportCertificates(certs, listed, (l) => process.stdout.write(`${l}\n`), (l) => process.stderr.write(`tt-agent: ${l}\n`));
  } finally {
    client.close();
  }
}

/** yargs gives a repeated option as an array and a single one as a string. */
function asList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

async function buildConstraints(argv: AddArgs): Promise<KeyConstraint[]> {
  const constraints: KeyConstraint[] = [];
  if (argv.lifetime !== undefined) {
    const { parseLifetime } = await import('../agent/lifetime');
    const seconds = parseLifetime(argv.lifetime);
    if (seconds === undefined || seconds <= 0) {
      throw new UserError(`invalid lifetime '${argv.lifetime}'`, 'Give seconds or a time like 90s, 30m, 8h, 1d, 1w.', 2);
    }
    constraints.push({ kind: 'lifetime', seconds });
  }
  if (argv.confirm) constraints.push({ kind: 'confirm' });
  // After lifetime and confirm: the order ssh-add encodes them in.
  const dests = asList(argv.destination);
  const files = asList(argv.knownHosts);
  if (dests.length > 0) {
    const { buildDestinationConstraint } = await import('./dest-constraints');
    const built = buildDestinationConstraint(dests, files);
    for (const note of built.notes) process.stderr.write(`tt-agent: ${note}\n`);
    constraints.push(built.constraint);
  } else if (files.length > 0) {
    throw new UserError('-H names known_hosts files for -h, but no -h destination was given', 'Add -h HOST, or leave out -H.', 2);
  }
  return constraints;
}

/**
 * The PIN as bytes: from SSH_ASKPASS when OpenSSH's rules pick it (no terminal and a display,
 * or SSH_ASKPASS_REQUIRE=force), else from the terminal without echo — as ssh-add does.
 */
async function askPin(what: string): Promise<Buffer> {
  const prompt = `Enter PIN for ${what}: `;
  const { haveTerminal, readPinFromTty } = await import('../pin/tty');
  const { askpassPlan, runAskpass } = await import('../pin/askpass');
  const plan = askpassPlan();
  const force = (process.env.SSH_ASKPASS_REQUIRE ?? '').toLowerCase() === 'force';
  if ('program' in plan && (force || !haveTerminal())) {
    const r = await runAskpass(plan.program, prompt);
    if (r.kind === 'pin') return r.pin;
    throw new UserError(`PIN entry ${r.kind === 'cancelled' ? 'cancelled' : 'failed'}: ${r.reason}`, 'Run tt-agent add again when the token is at hand.');
  }
  if (!haveTerminal()) {
    throw new UserError('no terminal to ask for the PIN on', 'Set SSH_ASKPASS (and SSH_ASKPASS_REQUIRE=force), or add with --no-pin and log in later.');
  }
  return readPinFromTty(prompt);
}

/** --remember-pin: one keyring entry per token that took the PIN. */
async function rememberFor(report: LoadReportLine[] | undefined, pin: Buffer): Promise<void> {
  const { rememberPin } = await import('../pin/remember');
  for (const line of report ?? []) {
    if (line.error || line.added === 0) continue;
    const r = await rememberPin({ label: line.token, serial: line.serial }, pin);
    process.stderr.write(`tt-agent: ${r.message}\n`);
  }
}

/** The module's latest load: its token lines, and the refusal the agent recorded with them. */
async function lastReport(status: StatusForAdd | null | undefined, modulePath: string): Promise<{ tokens?: LoadReportLine[]; error?: string }> {
  if (!status) return {};
  const real = await import('node:fs').then((fs) => fs.promises.realpath(modulePath)).catch(() => modulePath);
  const latest = status.loadReports?.filter((r) => r.modulePath === real).at(-1);
  if (latest) return latest;
  return { tokens: status.providers?.find((p) => p.modulePath === real)?.tokens };
}

function printReport(report: LoadReportLine[] | undefined, modulePath: string): void {
  if (!report) {
    process.stdout.write(`added keys from ${modulePath}\n`);
    return;
  }
  for (const line of report) {
    const who = `token ${line.token} (serial ${line.serial})`;
    if (line.error) process.stderr.write(`${who}: ${line.error.message}\n`);
    else process.stdout.write(`${who}: added ${line.added} key${line.added === 1 ? '' : 's'}\n`);
  }
}
