// The key-use configuration (~/.config/tt-agent/config, man tt-agent-config(5)), parsed from
// text: no I/O here. ssh_config style: `keyword arguments` (or `keyword=arguments`), keywords
// case-insensitive, '#' comments, "double quotes" around an argument with spaces. Global
// settings first, then `Key` blocks (policy per key) and `Host` blocks (keys offered per
// host). Every bad line is reported with its file and line; a file with any error is not used.
import { globMatches } from '../protocol/glob';
import type { Hinted } from '../hint';

export type ConfirmWhen = 'always' | 'forwarded' | 'sshsig' | 'other';
const CONFIRM_WORDS = ['never', 'always', 'forwarded', 'sshsig', 'other'] as const;

export interface KeyRule {
  line: number;
  /** `SHA256:...` fingerprints or globs over the key comment (token keys: their label). */
  selectors: string[];
  /** Empty: never. */
  confirm?: ConfirmWhen[];
  allowSshsig?: string[];
  remember?: boolean;
}

export interface HostRule {
  line: number;
  /** ssh_config Host patterns ('*', '?', leading '!') or `SHA256:...` host key fingerprints. */
  patterns: string[];
  keys?: string[];
}

export interface UseConfig {
  /** Where it came from (for messages); '' when built in. */
  file: string;
  notify: boolean;
  /** Seconds between two notifications of the same use. */
  notifyInterval: number;
  knownHosts: string[];
  /** OpenSSH certificates `tt-agent add` offers with a token's keys (certificate, certificate-dir). */
  certificates: string[];
  certificateDirs: string[];
  keyRules: KeyRule[];
  hostRules: HostRule[];
}

export const DEFAULT_NOTIFY_INTERVAL = 30;

export function emptyUseConfig(file = ''): UseConfig {
  return { file, notify: false, notifyInterval: DEFAULT_NOTIFY_INTERVAL, knownHosts: [], certificates: [], certificateDirs: [], keyRules: [], hostRules: [] };
}

/** A config file with bad lines; `problems` are `file:line: what` strings, one per bad line. */
export class UseConfigError extends Error implements Hinted {
  readonly hint = 'Fix those lines (man tt-agent-config), then start the agent again.';
  constructor(readonly problems: string[]) {
    // Every bad line, each as file:line: what is wrong, under one line that says what they are.
    super(`the configuration has errors:\n${problems.join('\n')}`);
    this.name = 'UseConfigError';
  }
}

type Section = { kind: 'global' } | { kind: 'key'; rule: KeyRule } | { kind: 'host'; rule: HostRule };

export function parseUseConfig(text: string, file: string): UseConfig {
  const config = emptyUseConfig(file);
  const problems: string[] = [];
  let section: Section = { kind: 'global' };
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const bad = (what: string) => problems.push(`${file}:${line}: ${what}`);
    let words: string[];
    try {
      words = tokenize(raw);
    } catch (err) {
      bad((err as Error).message);
      return;
    }
    if (words.length === 0) return;
    const keyword = words[0].toLowerCase();
    const args = words.slice(1);
    const need = (what: string): boolean => {
      if (args.length > 0) return true;
      bad(`${words[0]} needs ${what}`);
      return false;
    };
    const inKey = (): KeyRule | undefined => {
      if (section.kind === 'key') return section.rule;
      bad(`${words[0]} belongs in a Key block (put it under a "Key SELECTOR" line)`);
      return undefined;
    };
    switch (keyword) {
      case 'key':
        if (!need('one or more key selectors (SHA256:... fingerprints or comment patterns)')) return;
        section = { kind: 'key', rule: { line, selectors: args } };
        config.keyRules.push(section.rule);
        return;
      case 'host':
        if (!need('one or more host patterns')) return;
        section = { kind: 'host', rule: { line, patterns: args.map((p) => (isFingerprint(p) ? p : p.toLowerCase())) } };
        config.hostRules.push(section.rule);
        return;
      case 'notify':
        if (section.kind !== 'global') return void bad('notify is a global setting: put it before the first Key or Host line');
        if (args.length !== 1 || !['yes', 'no'].includes(args[0].toLowerCase())) return void bad('notify takes yes or no');
        config.notify = args[0].toLowerCase() === 'yes';
        return;
      case 'notify-interval': {
        if (section.kind !== 'global') return void bad('notify-interval is a global setting: put it before the first Key or Host line');
        const n = Number(args[0]);
        if (args.length !== 1 || !Number.isInteger(n) || n < 0 || n > 86400) return void bad('notify-interval takes whole seconds from 0 to 86400');
        config.notifyInterval = n;
        return;
      }
      case 'known-hosts':
        if (section.kind !== 'global') return void bad('known-hosts is a global setting: put it before the first Key or Host line');
        if (!need('one or more known_hosts files')) return;
        config.knownHosts.push(...args);
        return;
      case 'certificate':
      case 'certificate-dir':
        if (section.kind !== 'global') return void bad(`${keyword} is a global setting: put it before the first Key or Host line`);
        if (!need(keyword === 'certificate' ? 'one or more *-cert.pub files' : 'one or more directories')) return;
        (keyword === 'certificate' ? config.certificates : config.certificateDirs).push(...args);
        return;
      case 'confirm': {
        const rule = inKey();
        if (!rule || !need(`one of ${CONFIRM_WORDS.join(', ')}`)) return;
        const values = args.flatMap((a) => a.toLowerCase().split(',')).filter(Boolean);
        const unknown = values.filter((v) => !(CONFIRM_WORDS as readonly string[]).includes(v));
        if (unknown.length > 0) return void bad(`confirm: unknown value "${unknown[0]}" (use ${CONFIRM_WORDS.join(', ')}; forwarded, sshsig and other combine)`);
        if (values.length > 1 && (values.includes('never') || values.includes('always'))) {
          return void bad('confirm: never and always stand alone; only forwarded, sshsig and other combine');
        }
        if (rule.confirm === undefined) rule.confirm = values.filter((v): v is ConfirmWhen => v !== 'never');
        return;
      }
      case 'allow-sshsig': {
        const rule = inKey();
        if (!rule || !need('one or more SSHSIG namespaces (e.g. git file), or none')) return;
        if (rule.allowSshsig === undefined) rule.allowSshsig = args.length === 1 && args[0].toLowerCase() === 'none' ? [] : args;
        return;
      }
      case 'remember': {
        const rule = inKey();
        if (!rule) return;
        if (args.length !== 1 || !['yes', 'no'].includes(args[0].toLowerCase())) return void bad('remember takes yes or no');
        rule.remember ??= args[0].toLowerCase() === 'yes';
        return;
      }
      case 'keys':
        if (section.kind !== 'host') return void bad('keys belongs in a Host block (put it under a "Host PATTERN" line)');
        if (!need('one or more key selectors (SHA256:... fingerprints or comment patterns)')) return;
        section.rule.keys ??= args;
        return;
      default:
        bad(`unknown keyword "${words[0]}" (known: Key, Host, confirm, allow-sshsig, remember, keys, notify, notify-interval, known-hosts, certificate, certificate-dir)`);
    }
  });
  if (problems.length > 0) throw new UseConfigError(problems);
  return config;
}

/** Words of one line: whitespace-separated, "quoted" words may hold spaces, '#' starts a comment. */
function tokenize(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  // `keyword=value` as in ssh_config.
  const eq = /^\s*([A-Za-z-]+)\s*=\s*/.exec(line);
  if (eq) {
    words.push(eq[1]);
    i = eq[0].length;
  }
  while (i < line.length) {
    const c = line[i];
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      break;
    } else if (c === '"') {
      const end = line.indexOf('"', i + 1);
      if (end < 0) throw new Error('unterminated quote');
      words.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      let j = i;
      while (j < line.length && !/[ \t\r"]/.test(line[j])) j++;
      words.push(line.slice(i, j));
      i = j;
    }
  }
  return words;
}

export function isFingerprint(s: string): boolean {
  return /^SHA256:[A-Za-z0-9+/]{43}$/.test(s);
}

/** Does a key selector pick this key? A fingerprint exactly, otherwise a glob over the comment. */
export function selectorMatches(selector: string, key: { fingerprint: string; comment: string }): boolean {
  return isFingerprint(selector) ? selector === key.fingerprint : globMatches(key.comment, selector);
}

export interface KeyPolicy {
  confirm: ConfirmWhen[];
  /** Undefined: every namespace. */
  allowSshsig?: string[];
  remember: boolean;
}

/** The policy of one key: for each setting the first Key block that picks the key and sets it. */
export function keyPolicy(config: UseConfig, key: { fingerprint: string; comment: string }): KeyPolicy {
  const policy: Partial<KeyPolicy> = {};
  for (const rule of config.keyRules) {
    if (!rule.selectors.some((s) => selectorMatches(s, key))) continue;
    policy.confirm ??= rule.confirm;
    policy.allowSshsig ??= rule.allowSshsig;
    policy.remember ??= rule.remember;
  }
  return { confirm: policy.confirm ?? [], allowSshsig: policy.allowSshsig, remember: policy.remember ?? false };
}

/**
 * The key selectors of the first Host block that matches the host, by one of its known_hosts
 * names (or the host part of a `[host]:port` name) or by its host key fingerprint; undefined
 * when none does (then every key is offered).
 */
export function hostKeySelection(config: UseConfig, host: { names: string[]; fingerprint: string }): HostRule | undefined {
  return config.hostRules.find((rule) => rule.keys && hostRuleMatches(rule.patterns, host));
}

function hostRuleMatches(patterns: string[], host: { names: string[]; fingerprint: string }): boolean {
  const candidates = new Set<string>();
  for (const n of host.names) {
    candidates.add(n);
    const m = /^\[([^\]]+)\]:\d+$/.exec(n);
    if (m) candidates.add(m[1]);
  }
  // As ssh_config: a name matches when some pattern does and no negated one does.
  const nameMatches = (name: string) => {
    let positive = false;
    for (const raw of patterns) {
      const negated = raw.startsWith('!');
      const p = negated ? raw.slice(1) : raw;
      const hit = isFingerprint(p) ? false : globMatches(name, p);
      if (hit && negated) return false;
      if (hit) positive = true;
    }
    return positive;
  };
  if (patterns.some((p) => isFingerprint(p) && p === host.fingerprint)) return true;
  return [...candidates].some(nameMatches);
}
