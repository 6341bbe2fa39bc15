// Settings of the entropy feeder: TokenRNG's /etc/token-tools.conf (section [Global], keys
// pkcs11_library, reader_slot, random_chunk_size, entropy_ratio, debug), then command-line
// flags over it. No file at the default path means TokenRNG's defaults.
import * as fs from 'node:fs';
import { iniGet, parseIni, IniSyntaxError, type Ini } from './ini';
import type { Hinted } from '../hint';

export const DEFAULT_CONFIG_PATH = '/etc/token-tools.conf';
/** TokenRNG reads everything from this section. */
export const CONFIG_SECTION = 'Global';
export const CONFIG_KEYS = ['pkcs11_library', 'reader_slot', 'random_chunk_size', 'entropy_ratio', 'debug'] as const;

// 128 bytes is TokenRNG's chunk; at 2 bits per byte it credits 256 bits, the size of the
// whole input pool of Linux ≥ 5.18, and it is small enough for a smart card's APDU limits.
export const DEFAULT_CHUNK_SIZE = 128;
export const DEFAULT_ENTROPY_RATIO = 2;
export const MAX_ENTROPY_RATIO = 8;
/** Above this a warning is logged: few tokens document that much per byte of output. */
export const WARN_ENTROPY_RATIO = 4;
export const MAX_CHUNK_SIZE = 1024 * 1024;
export const DEFAULT_INTERVAL_SECONDS = 60;

export interface RngSettings {
  /** the module (path, p11-kit name or pkcs11: URI); undefined: the token layer's default */
  module?: string;
  /** PKCS#11 slot ID (TokenRNG's reader_slot); undefined: the first token */
  slot?: number;
  chunkSize: number;
  /** bits credited per byte fed; 0 = mix without credit */
  entropyRatio: number;
  debug: boolean;
  /** seconds between chunks where the kernel's entropy count means nothing (Linux ≥ 5.18) */
  intervalSeconds: number;
  /** where the file values came from, if a file was read */
  configFile?: string;
  /** things worth a log line that do not stop the feeder */
  warnings: string[];
}

export type RngFlags = Partial<Pick<RngSettings, 'module' | 'slot' | 'chunkSize' | 'entropyRatio' | 'debug' | 'intervalSeconds'>>;

/** A bad option value or config line: a usage error (exit 2), with what to write instead. */
export class ConfigError extends Error implements Hinted {
  readonly usage = true;
  constructor(
    message: string,
    readonly hint: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Reads the config file (the default path may be absent; a path the user named may not) and
 * lays the flags over it.
 */
export function loadRngSettings(flags: RngFlags, configPath?: string): RngSettings {
  const path = configPath ?? DEFAULT_CONFIG_PATH;
  let text: string | undefined;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!(code === 'ENOENT' && configPath === undefined)) {
      throw new ConfigError(
        `cannot read the configuration file ${path}: ${code ?? String(err)}`,
        configPath === undefined
          ? `Make ${path} readable, or name another file with --config.`
          : 'Check the path given to --config.',
        path,
      );
    }
  }
  const fromFile = text === undefined ? {} : settingsFromText(text, path);
  return resolveSettings(fromFile, flags, text === undefined ? undefined : path);
}

/** The file's values, checked; `file` only names it in messages. */
export function settingsFromText(text: string, file = 'the configuration file'): RngFlags & { unknownKeys: string[] } {
  let ini: Ini;
  try {
    ini = parseIni(text);
  } catch (err) {
    if (err instanceof IniSyntaxError) {
      throw new ConfigError(`${file}, ${err.message}`, 'Fix that line; see token-tools.conf(5) for the format.', file);
    }
    throw err;
  }
  const out: RngFlags & { unknownKeys: string[] } = { unknownKeys: [] };
  const get = (key: string) => iniGet(ini, CONFIG_SECTION, key);
  const where = (key: string) => `${file}, line ${get(key)!.line}`;

  const lib = get('pkcs11_library');
  if (lib && lib.value !== '') out.module = lib.value;
  const slot = get('reader_slot');
  if (slot) out.slot = parseInteger(slot.value, 'reader_slot', where('reader_slot'), 0, 2 ** 32 - 1);
  const chunk = get('random_chunk_size');
  if (chunk) out.chunkSize = parseInteger(chunk.value, 'random_chunk_size', where('random_chunk_size'), 1, MAX_CHUNK_SIZE);
  const ratio = get('entropy_ratio');
  if (ratio) out.entropyRatio = parseRatio(ratio.value, `entropy_ratio (${where('entropy_ratio')})`);
  const debug = get('debug');
  if (debug) out.debug = parseBoolean(debug.value, where('debug'));

  for (const [section, keys] of ini) {
    if (section !== CONFIG_SECTION && section !== 'DEFAULT' && section !== '') continue;
    for (const key of keys.keys()) {
      if (!(CONFIG_KEYS as readonly string[]).includes(key)) out.unknownKeys.push(key);
    }
  }
  return out;
}

export function resolveSettings(fromFile: RngFlags & { unknownKeys?: string[] }, flags: RngFlags, configFile?: string): RngSettings {
  const pick = <K extends keyof RngFlags>(k: K): RngFlags[K] => (flags[k] !== undefined ? flags[k] : fromFile[k]);
  const settings: RngSettings = {
    module: pick('module'),
    slot: pick('slot'),
    chunkSize: pick('chunkSize') ?? DEFAULT_CHUNK_SIZE,
    entropyRatio: pick('entropyRatio') ?? DEFAULT_ENTROPY_RATIO,
    debug: pick('debug') ?? false,
    intervalSeconds: pick('intervalSeconds') ?? DEFAULT_INTERVAL_SECONDS,
    configFile,
    warnings: [],
  };
  checkRatio(settings.entropyRatio, 'the entropy ratio');
  if (!Number.isInteger(settings.chunkSize) || settings.chunkSize < 1 || settings.chunkSize > MAX_CHUNK_SIZE) {
    throw new ConfigError(`chunk size ${settings.chunkSize} is out of range`, `Use 1 to ${MAX_CHUNK_SIZE} bytes.`);
  }
  if (!(settings.intervalSeconds > 0)) {
    throw new ConfigError(`interval ${settings.intervalSeconds} s is not positive`, 'Give --interval in seconds, e.g. 60.');
  }
  if (settings.entropyRatio > WARN_ENTROPY_RATIO) {
    settings.warnings.push(
      `crediting ${settings.entropyRatio} bits per byte is unwise unless the token's maker documents that much ` +
        'min-entropy in its output; the default is 2',
    );
  }
  for (const key of fromFile.unknownKeys ?? []) {
    settings.warnings.push(`${configFile ?? 'the configuration file'}: unknown key '${key}' ignored`);
  }
  return settings;
}

/** entropy_ratio / --entropy-ratio: a number of bits per byte, 0 to 8. */
export function parseRatio(text: string, what = 'entropy ratio'): number {
  const s = text.trim();
  const n = /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  if (Number.isNaN(n)) throw new ConfigError(`${what}: '${text}' is not a number of bits per byte`, 'Use a number from 0 to 8, e.g. 2.');
  checkRatio(n, what);
  return n;
}

function checkRatio(n: number, what: string): void {
  if (!(n >= 0)) throw new ConfigError(`${what} ${n} is negative`, 'Use a number from 0 to 8; 0 mixes without crediting.');
  if (n > MAX_ENTROPY_RATIO) {
    throw new ConfigError(
      `${what} ${n} is more than 8 bits per byte, which no byte can hold`,
      'Use a number from 0 to 8; 2 is the default, 0 mixes without crediting.',
    );
  }
}

function parseInteger(text: string, key: string, where: string, min: number, max: number): number {
  const s = text.trim();
  const n = /^\d+$/.test(s) ? Number(s) : /^0x[0-9a-f]+$/i.test(s) ? Number.parseInt(s, 16) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${key} = '${text}' (${where}) is not a whole number from ${min} to ${max}`, `Fix ${key} in the file.`);
  }
  return n;
}

// configparser.getboolean's words.
const TRUE_WORDS = ['1', 'yes', 'true', 'on'];
const FALSE_WORDS = ['0', 'no', 'false', 'off'];

function parseBoolean(text: string, where: string): boolean {
  const s = text.trim().toLowerCase();
  if (TRUE_WORDS.includes(s)) return true;
  if (FALSE_WORDS.includes(s)) return false;
  throw new ConfigError(`debug = '${text}' (${where}) is not yes/no`, 'Use yes, no, true, false, on, off, 1 or 0.');
}
