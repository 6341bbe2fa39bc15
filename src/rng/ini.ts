// The INI dialect of Python's configparser, which TokenRNG used to read /etc/token-tools.conf,
// so that a file written for TokenRNG reads the same here: `key = value` or `key: value`,
// [sections], whole-line comments starting with # or ;, keys case-insensitive. Also tolerated
// (Python 2's parser did, and people write them): inline "; comment" / "# comment" after
// whitespace, and values in matching quotes. One deliberate difference: configparser reads an
// indented line as the continuation of the previous value; none of our keys has multi-line
// values, so leading whitespace is simply ignored and an indented `key = value` is a key.

export interface IniEntry {
  value: string;
  /** 1-based, for messages */
  line: number;
}

/** section name (as written, [DEFAULT] included; '' for keys before any section) → key (lower case) → entry */
export type Ini = Map<string, Map<string, IniEntry>>;

export class IniSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly text: string,
  ) {
    super(`line ${line}: cannot read "${text.trim()}" (expected "key = value", a [section] or a comment)`);
    this.name = 'IniSyntaxError';
  }
}

export function parseIni(text: string): Ini {
  const ini: Ini = new Map();
  let section = '';
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const lineNo = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]\s*([#;].*)?$/.exec(trimmed);
    if (header) {
      section = header[1]!.trim();
      if (!ini.has(section)) ini.set(section, new Map());
      continue;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (!kv) throw new IniSyntaxError(lineNo, raw);
    let keys = ini.get(section);
    if (!keys) ini.set(section, (keys = new Map()));
    keys.set(kv[1]!.toLowerCase(), { value: stripValue(kv[2]!), line: lineNo });
  }
  return ini;
}

function stripValue(v: string): string {
  // Inline comments need whitespace before the marker, as in Python 2's ConfigParser, so a
  // value like "lib#2.so" keeps its '#'.
  let s = v.replace(/\s+[;#].*$/, '').trim();
  const q = s[0];
  if (s.length >= 2 && (q === '"' || q === "'") && s.endsWith(q)) s = s.slice(1, -1);
  return s;
}

/**
 * A key as configparser looks it up for `section`: the section's own value, else [DEFAULT]'s.
 * Keys written before any section header (configparser refuses those) count as defaults too.
 */
export function iniGet(ini: Ini, section: string, key: string): IniEntry | undefined {
  return ini.get(section)?.get(key) ?? ini.get('DEFAULT')?.get(key) ?? ini.get('')?.get(key);
}
