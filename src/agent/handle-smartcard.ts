// SSH_AGENTC_ADD_SMARTCARD_KEY(_CONSTRAINED) and SSH_AGENTC_REMOVE_SMARTCARD_KEY: load a
// PKCS#11 module through a TokenProvider and add its keys, or unload it. The module is named
// by path or by a pkcs11: URI (RFC 7512) whose module-path selects the library and whose
// other attributes the provider uses to pick the token.
import { realpath } from 'node:fs/promises';
import { encodeSuccess } from '../protocol/agent-responses';
import { checkModule } from './allowlist';
import { describeConstraints, toIdentityConstraints } from './constraints';
import type { RequestContext, RequestOf } from './context';
import type { LoadedProvider } from './core';
import type { IdentityConstraints } from './identities';
import type { ProviderFactory, TokenLoadReport } from '../token-provider/provider';
import { hintOf, shellWord } from '../hint';
import { AgentRefusal, describeError } from './refusal';
import { refusedKey } from './key-policy';
import { splitAssociatedCerts, tokenIdentities, type AssociatedCerts } from './token-certs';

/** Module path and optional URI from the reader id of the request. */
export function parseReaderId(readerId: string): { modulePath: string; uri?: string } {
  if (!readerId.toLowerCase().startsWith('pkcs11:')) return { modulePath: readerId };
  // module-path is a query attribute (RFC 7512 section 2.3), percent-encoded.
  const query = readerId.includes('?') ? readerId.slice(readerId.indexOf('?') + 1) : '';
  for (const attr of query.split('&')) {
    const eq = attr.indexOf('=');
    if (eq > 0 && attr.slice(0, eq) === 'module-path') {
      try {
        return { modulePath: decodeURIComponent(attr.slice(eq + 1)), uri: readerId };
      } catch {
        break;
      }
    }
  }
  throw new AgentRefusal('pkcs11: URI without a usable module-path attribute; the client must name the module');
}

export async function addSmartcardKey(
  req: RequestOf<'SSH_AGENTC_ADD_SMARTCARD_KEY' | 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED'>,
  ctx: RequestContext,
): Promise<Buffer> {
  const { core } = ctx;
  // Every refusal before a provider sees the module is kept for `tt-agent status`.
  const refuse = (requested: string, reason: string, realPath?: string, hint?: string): never => {
    core.recordRefusal({ requested: requested.slice(0, 512), realPath, reason });
    throw new AgentRefusal(reason, 'warn', hint);
  };
  let parsed: { modulePath: string; uri?: string };
  try {
    parsed = parseReaderId(req.readerId);
  } catch (err) {
    return refuse(req.readerId, (err as Error).message);
  }
  const { modulePath: requested, uri } = parsed;
  // Bound and forwarded connections were turned away by the dispatcher (trust.ts).
  const factory = core.config.providerFactory;
  if (!factory) return refuse(requested, 'this agent was started without token support');
  const check = await checkModule(requested, core.config.allowlist);
  if (!check.ok) return refuse(requested, `refusing to load: ${check.reason}`, check.realPath, check.hint);
  const modulePath = check.realPath;
  const { rest, associated } = splitAssociatedCerts(req.constraints, core.log.bind(core));
  const constraints = toIdentityConstraints(rest, core.config.defaultLifetime);

  return core.withModule(modulePath, () => loadModule(ctx, factory, modulePath, req.pin, uri, constraints, associated));
}

async function loadModule(
  { core }: RequestContext,
  factory: ProviderFactory,
  modulePath: string,
  pin: Buffer,
  uri: string | undefined,
  constraints: IdentityConstraints,
  associated?: AssociatedCerts,
): Promise<Buffer> {
  const existing = core.providers.get(modulePath);
  const provider = existing?.provider ?? factory(modulePath);
  let loaded;
  try {
    loaded = await provider.load(pin.length > 0 ? pin : null, uri);
  } catch (err) {
    if (!existing) await provider.close().catch(() => undefined);
    const why = describeError(err);
    core.recordLoad({ modulePath, tokens: [], error: why });
    throw new AgentRefusal(`loading ${modulePath} failed: ${why}`, 'error', hintOf(err));
  }
  logReports(core.log.bind(core), modulePath, loaded.report);
  // A module already loaded may add keys it did not have (another token, by URI), but never
  // touches the keys it already gave: their constraints (-c, -h, -t) stay as the first add set
  // them. Loosening one means removing the module first (ssh-add -e), as in OpenSSH, which
  // refuses a second add of a loaded provider outright.
  const usable = loaded.identities.filter((t) => {
    const weak = refusedKey(t.publicKey);
    if (weak) core.log('warn', `key ${JSON.stringify(t.comment)} on token ${JSON.stringify(t.token)} not added: ${weak}`);
    return !weak;
  });
  const identities = tokenIdentities(usable, provider, constraints, associated, core.log.bind(core)).filter((id) => !core.identities.get(id.blob));
  if (identities.length === 0) {
    if (!existing) await provider.close().catch(() => undefined);
    const why = existing
      ? `module ${modulePath} is already loaded and its keys keep their constraints; remove it first (ssh-add -e) to add it again`
      : associated?.certOnly
        ? `no certificate matched a key on the tokens of ${modulePath}` // OpenSSH: failure when nothing was added
        : `no usable keys on the tokens of ${modulePath}`;
    core.recordLoad({ modulePath, tokens: loaded.report, error: why });
    const list = `tt-agent list ${shellWord(modulePath)}`;
    throw new AgentRefusal(
      why,
      'warn',
      existing ? 'tt-agent status shows what is loaded from it.' : `${list} shows the keys on the token and what is wrong with them.`,
    );
  }
  core.recordLoad({ modulePath, tokens: loaded.report });
  const entry: LoadedProvider = existing ?? { provider, reports: [], loadedAt: Date.now() };
  entry.reports = loaded.report;
  core.providers.set(modulePath, entry);
  for (const id of identities) core.identities.add(id);
  const certs = identities.filter((id) => id.certificate).length;
  const what = `${identities.length - certs} key(s)${certs ? ` and ${certs} certificate(s)` : ''}`;
  core.log('info', `added ${what} from ${modulePath}${describeConstraints(constraints)}`);
  return encodeSuccess();
}

function logReports(log: RequestContext['core']['log'], modulePath: string, reports: TokenLoadReport[]): void {
  for (const r of reports) {
    const who = `token ${JSON.stringify(r.token)} (serial ${r.serial}) of ${modulePath}`;
    if (r.error) log('warn', `${who}: ${r.error.ckr ? `${r.error.ckr}: ` : ''}${r.error.message}`);
    else log('info', `${who}: ${r.added} key(s)`);
  }
}

export async function removeSmartcardKey(req: RequestOf<'SSH_AGENTC_REMOVE_SMARTCARD_KEY'>, { core }: RequestContext): Promise<Buffer> {
  const { modulePath: requested } = parseReaderId(req.readerId);
  // The file may be gone by now (package upgrade); then the name as given is the key.
  const modulePath = await realpath(requested).catch(() => requested);
  return core.withModule(modulePath, async () => {
    // Quoted: the name is the client's, and a control character in it must not forge a log line.
    if (!core.providers.has(modulePath)) throw new AgentRefusal(`module ${JSON.stringify(modulePath)} is not loaded`, 'info');
    const removed = await core.unloadProvider(modulePath);
    core.log('info', `unloaded ${modulePath} and its ${removed} key(s)`);
    return encodeSuccess();
  });
}
