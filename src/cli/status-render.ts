// The text form of `tt-agent status`: the agent, then each module → token → keys, then the
// recent loads and refusals. Ordered so the reason for "agent refused operation" is near the
// top of the part that concerns the key: a token not present, not logged in, a locked PIN.
import type { AgentStatus, KeyStatus } from '../agent/status';
import type { ModuleStatus, TokenView } from '../agent/status-modules';

export function renderStatus(s: AgentStatus, socketPath: string, now = Date.now()): string {
  // A locked agent tells nothing but that it is locked (see the agent's status handler).
  if (s.locked) return `tt-agent at ${socketPath}: LOCKED: lists no keys, signs nothing and shows no status (unlock with: ssh-add -X)\n`;
  const out: string[] = [];
  const keys = s.keys ?? [];
  const fileKeys = keys.filter((k) => k.source === 'file');
  out.push(`tt-agent ${s.version}  pid ${s.pid}  uid ${s.uid}  up ${duration(now - Date.parse(s.startedAt))}`);
  out.push(
    ...fields([
      ['socket', socketPath],
      ['lock', s.locked ? 'LOCKED: lists no keys and signs nothing (unlock with: ssh-add -X)' : 'unlocked'],
      ['keys', s.locked ? 'hidden while locked' : `${s.identities} (${s.identities - fileKeys.length} on tokens, ${fileKeys.length} from files)`],
      ['lifetime', s.defaultLifetime ? `${s.defaultLifetime} s for keys added without one` : 'none (keys stay until removed)'],
      ['allowlist', s.allowlist.join(', ')],
      ['forwarded', s.allowRemoteProviders ? 'module loads allowed' : 'module loads refused'],
    ]).map(indent),
  );

  const modules = s.modules ?? [];
  if (modules.length === 0) out.push('', 'no modules loaded');
  for (const m of modules) out.push('', ...renderModule(m, s.locked));

  if (fileKeys.length > 0) {
    out.push('', 'file keys');
    out.push(...table([['TYPE', 'FINGERPRINT', 'COMMENT', 'NOTES'], ...fileKeys.map((k) => [k.type, k.fingerprint, k.comment, keyNotes(k)])]).map(indent));
  }

  const loadedPaths = new Set(modules.map((m) => m.modulePath));
  const orphanErrors = s.tokenErrors.filter((e) => !loadedPaths.has(e.modulePath));
  if (orphanErrors.length > 0) {
    out.push('', 'last errors of tokens not loaded now');
    out.push(...table(orphanErrors.map((e) => [when(e.at), `token ${e.token}`, e.modulePath, errorText(e)])).map(indent));
  }
  if (s.loadReports.length > 0) {
    out.push('', 'recent module loads (newest last)');
    out.push(...table(s.loadReports.map((r) => [when(r.at), r.modulePath, r.error ? 'FAILED' : 'ok', loadSummary(r)])).map(indent));
  }
  if (s.refusals.length > 0) {
    out.push('', 'refused module loads (newest last)');
    for (const r of s.refusals) {
      const real = r.realPath && r.realPath !== r.requested ? ` (realpath ${r.realPath})` : '';
      out.push(`  ${when(r.at)}  ${r.requested}${real}`, `      ${r.reason}`);
    }
  }
  return `${out.join('\n')}\n`;
}

function renderModule(m: ModuleStatus, locked: boolean): string[] {
  const h = m.host;
  const hostState = h.error
    ? `no answer: ${h.error}`
    : h.running
      ? `pid ${h.pid ?? '?'}, running`
      : 'not running (it starts again on the next signature)';
  const out = [`module ${m.modulePath}  (loaded ${when(m.loadedAt)})`];
  const hostFields: [string, string][] = [
    ['host', `${hostState}, ${h.restarts} restart${h.restarts === 1 ? '' : 's'}${h.serialized ? ', calls serialized' : ''}`],
  ];
  if (h.lastCrash) hostFields.push(['last crash', h.lastCrash]);
  out.push(...fields(hostFields).map(indent));
  if (m.tokens.length === 0) out.push('  no tokens');
  for (const t of m.tokens) out.push(...renderToken(t, locked).map(indent));
  return out;
}

function renderToken(t: TokenView, locked: boolean): string[] {
  const out = [`token ${t.token}  serial ${t.serial || '?'}${t.slot !== undefined ? `  slot ${t.slot}` : ''}`];
  const state = [
    t.present === null ? 'presence unknown' : t.present ? 'present' : 'NOT PRESENT (insert it; its keys sign again)',
    t.loggedIn === null ? 'login unknown' : t.loggedIn ? 'logged in' : 'not logged in',
  ].join(', ');
  out.push(
    ...fields([
      ['state', state],
      ['PIN', pinText(t)],
      ['last error', t.lastError ? `${errorText(t.lastError)}${t.lastError.at ? `  (${when(t.lastError.at)})` : ''}` : 'none'],
    ]).map(indent),
  );
  if (locked) {
    out.push('  keys hidden while the agent is locked');
  } else if (t.keys.length === 0) {
    out.push('  no keys in the agent');
  } else {
    const rows = [['TYPE', 'FINGERPRINT', 'LABEL', 'CKA_ID', 'NOTES']];
    for (const k of t.keys) {
      const notes = [...k.problems.map((p) => `! ${p}`), k.confirm ? 'confirm' : '', k.expiresAt ? `expires ${when(k.expiresAt)}` : '']
        .filter(Boolean)
        .join('; ');
      rows.push([k.type, k.fingerprint, k.label, k.id ?? '?', notes]);
    }
    out.push(...table(rows).map(indent));
  }
  return out;
}

function pinText(t: TokenView): string {
  switch (t.pinTries) {
    case 'ok':
      return 'no failed tries reported';
    case 'count low':
      return 'a wrong PIN was entered: few tries left (CKF_USER_PIN_COUNT_LOW)';
    case 'final try':
      return 'ONE try left: the next wrong PIN locks the token (CKF_USER_PIN_FINAL_TRY)';
    case 'locked':
      return 'LOCKED: unblock it with the SO PIN or PUK (CKF_USER_PIN_LOCKED)';
    default:
      return 'unknown (the module host did not say)';
  }
}

function loadSummary(r: AgentStatus['loadReports'][number]): string {
  const tokens = r.tokens.map((t) => `token ${t.token}: ${t.error ? errorText(t.error) : `${t.added} key${t.added === 1 ? '' : 's'}`}`);
  if (r.error && (tokens.length === 0 || !r.tokens.some((t) => t.error))) tokens.push(r.error);
  return tokens.join('; ');
}

function errorText(e: { ckr?: string; message: string }): string {
  return e.ckr && !e.message.includes(e.ckr) ? `${e.ckr}: ${e.message}` : e.message;
}

function keyNotes(k: KeyStatus): string {
  return [k.confirm ? 'confirm' : '', k.expiresAt ? `expires ${when(k.expiresAt)}` : '', k.destinations ? `${k.destinations} destination rule(s)` : '']
    .filter(Boolean)
    .join('; ');
}

/** Local time, to the second: the agent's clock is the user's clock. */
function when(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return [d && `${d}d`, (d || h) && `${h}h`, (d || h || m) && `${m}m`, `${s % 60}s`].filter(Boolean).join(' ');
}

function fields(rows: [string, string][]): string[] {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`);
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

function indent(line: string): string {
  return `  ${line}`;
}
