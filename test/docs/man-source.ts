// Reads man/tt-agent.1 the way the tests need it: as plain text per section, straight from
// the roff source, so option checks run even where groff is not installed.
import * as fs from 'node:fs';

export interface ManSection {
  /** `.SH` or `.SS` */
  level: 'SH' | 'SS';
  /** The heading as text, e.g. "tt-agent add [MODULE|URI]" or "ENVIRONMENT". */
  title: string;
  /** Everything up to the next heading of any level, as plain text. */
  text: string;
  /** The tags of its `.TP`/`.TQ` items (an option's own entry, e.g. "-t, --lifetime LIFE"). */
  tags: string[];
}

// man(7) macros whose arguments alternate between two fonts: the words are joined without spaces.
const ALTERNATING = new Set(['BR', 'RB', 'BI', 'IB', 'IR', 'RI']);

/** Splits a macro line's arguments as troff does: blanks separate, double quotes group. */
function macroArgs(rest: string): string[] {
  const args: string[] = [];
  const re = /"((?:[^"]|"")*)"|(\S+)/g;
  for (const m of rest.matchAll(re)) args.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]);
  return args;
}

/** The escapes this project's pages use, turned into the characters they print. */
function unescape(s: string): string {
  return s
    .replace(/\\f[BIRP]|\\f\[[A-Z]*\]/g, '')
    .replace(/\\\(aq/g, "'")
    .replace(/\\\(dq/g, '"')
    .replace(/\\\(bu/g, '*')
    .replace(/\\\(mu/g, 'x')
    .replace(/\\\(em/g, '--')
    .replace(/\\[&:]/g, '')
    .replace(/\\-/g, '-')
    .replace(/\\e/g, '\\');
}

/** One source line as the text it prints (macro names dropped, fonts ignored). */
export function deroffLine(line: string): string {
  if (line.startsWith('.\\"') || line.startsWith("'\\\"")) return '';
  const m = /^[.'](\S+)\s*(.*)$/.exec(line);
  if (!m) return unescape(line);
  const [, macro, rest] = m;
  if (['B', 'I', 'SH', 'SS', 'TP', 'IP', 'TQ', 'PP', 'P', 'LP', 'EX', 'EE', 'nf', 'fi', 'RS', 'RE', 'sp', 'ad', 'nh', 'nr', 'TH'].includes(macro)) {
    if (['B', 'I', 'SH', 'SS'].includes(macro)) return unescape(macroArgs(rest).join(' '));
    if (macro === 'IP') return unescape(macroArgs(rest)[0] ?? '');
    return '';
  }
  if (ALTERNATING.has(macro)) return unescape(macroArgs(rest).join(''));
  return '';
}

export function readManSections(file: string): ManSection[] {
  const sections: ManSection[] = [];
  let current: ManSection | undefined;
  let tagNext = false;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const heading = /^\.(SH|SS)\s+(.*)$/.exec(line);
    if (heading) {
      current = { level: heading[1] as 'SH' | 'SS', title: unescape(macroArgs(heading[2]).join(' ')), text: '', tags: [] };
      sections.push(current);
      continue;
    }
    if (!current) continue;
    const text = deroffLine(line);
    current.text += `${text}\n`;
    if (tagNext && !line.startsWith('.\\"')) {
      current.tags.push(text);
      tagNext = false;
    }
    if (/^\.(TP|TQ)\b/.test(line)) tagNext = true;
  }
  return sections;
}

/**
 * The text of an `.SH` section including its `.SS` subsections (up to the next `.SH`).
 */
export function wholeSection(sections: ManSection[], title: string): ManSection | undefined {
  const i = sections.findIndex((s) => s.level === 'SH' && s.title === title);
  if (i < 0) return undefined;
  const whole = { ...sections[i], tags: [...sections[i].tags] };
  for (let j = i + 1; j < sections.length && sections[j].level === 'SS'; j++) {
    whole.text += `${sections[j].title}\n${sections[j].text}`;
    whole.tags.push(...sections[j].tags);
  }
  return whole;
}

/** True when `option` (e.g. "--days", "-t") appears in `text` as a word of its own. */
export function mentionsOption(text: string, option: string): boolean {
  const escaped = option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w-])${escaped}(?![\\w-])`, 'm').test(text);
}
