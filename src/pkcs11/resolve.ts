// What the user names on the command line → a module path (and a URI when one was given).
// Accepted: a path to a module, a p11-kit module name ('opensc', 'softhsm2'), or a pkcs11:
// URI whose module-path / module-name query attributes name the module.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModuleSpecError } from './errors';
import { isPkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from './uri';

export interface ResolvedModule {
  modulePath: string;
  uri?: Pkcs11Uri;
  /** how the path was found, for "using module X (from ...)" */
  source: 'path' | 'p11-kit' | 'uri' | 'env' | 'default';
  /** the p11-kit config file that named the module, when one did */
  configFile?: string;
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** p11-kit module config directories, highest precedence first */
  configDirs?: string[];
  /** where p11-kit looks for relative `module:` names */
  moduleDirs?: string[];
}

const MULTIARCH: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf' };

/** p11-kit's config locations (pkcs11.conf(5)): the user's, the admin's, the packages'. */
export function p11KitConfigDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME || os.homedir();
  return [path.join(home, '.config/pkcs11/modules'), '/etc/pkcs11/modules', '/usr/share/p11-kit/modules'];
}

/** Directories p11-kit resolves a relative `module:` against, by distribution layout. */
export function p11KitModuleDirs(): string[] {
  const triple = MULTIARCH[process.arch];
  return [
    ...(triple ? [`/usr/lib/${triple}/pkcs11`] : []),
    '/usr/lib64/pkcs11',
    '/usr/lib/pkcs11',
    '/usr/local/lib/pkcs11',
  ];
}

export function resolveModuleSpec(spec: string | undefined, options: ResolveOptions = {}): ResolvedModule {
  if (spec === undefined || spec === '') return defaultModule(options);
  if (isPkcs11Uri(spec)) {
    const uri = parsePkcs11Uri(spec);
    if (uri.modulePath) return { modulePath: uri.modulePath, uri, source: 'uri' };
    if (uri.moduleName) return { ...byName(uri.moduleName, options), uri };
    return { ...defaultModule(options), uri };
  }
  if (spec.includes('/') || /\.so(\.\d+)*$|\.dylib$|\.dll$/.test(spec)) return { modulePath: spec, source: 'path' };
  return byName(spec, options);
}

interface ModuleConfig {
  name: string;
  file: string;
  module?: string;
}

function byName(name: string, options: ResolveOptions): ResolvedModule {
  const dirs = options.configDirs ?? p11KitConfigDirs(options.env);
  const moduleDirs = options.moduleDirs ?? p11KitModuleDirs();
  const { configs, unreadable } = readConfigs(dirs);
  const bare = (f: string) => path.basename(f).replace(/\.so(\.\d+)*$/, '').replace(/^lib/, '');
  // The config's own name first ('softhsm2'), then 'NAME-pkcs11' ('opensc' → opensc-pkcs11.module),
  // then the library's name ('libsofthsm2.so' → 'softhsm2').
  const match =
    configs.find((c) => c.name === name) ??
    configs.find((c) => c.name === `${name}-pkcs11`) ??
    configs.find((c) => c.module !== undefined && [name, `${name}-pkcs11`].includes(bare(c.module)));
  if (match) {
    if (!match.module) {
      throw new ModuleSpecError(name, 'config-without-module', `${match.file} has no 'module:' line`);
    }
    return { modulePath: absoluteModule(match.module, moduleDirs), source: 'p11-kit', configFile: match.file };
  }
  const bad = unreadable.find((u) => [`${name}.module`, `${name}-pkcs11.module`].includes(path.basename(u.file))) ?? unreadable[0];
  if (bad) {
    throw new ModuleSpecError(name, 'config-unreadable', `cannot read p11-kit config ${bad.file}: ${bad.error}`);
  }
  for (const dir of moduleDirs) {
    for (const f of [`${name}.so`, `lib${name}.so`, `${name}-pkcs11.so`]) {
      const p = path.join(dir, f);
      if (fs.existsSync(p)) return { modulePath: p, source: 'p11-kit' };
    }
  }
  const known = configs.map((c) => c.name).join(', ');
  throw new ModuleSpecError(
    name,
    'unknown-module-name',
    `no p11-kit module named '${name}' in ${dirs.join(', ')}` + (known ? ` (known: ${known})` : ''),
  );
}

function readConfigs(dirs: string[]): { configs: ModuleConfig[]; unreadable: { file: string; error: string }[] } {
  const configs: ModuleConfig[] = [];
  const unreadable: { file: string; error: string }[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((n) => n.endsWith('.module')).sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') unreadable.push({ file: dir, error: code ?? String(err) });
      continue;
    }
    for (const n of names) {
      const name = n.slice(0, -'.module'.length);
      // A user's config of the same name overrides the system's (pkcs11.conf(5)).
      if (seen.has(name)) continue;
      seen.add(name);
      const file = path.join(dir, n);
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        unreadable.push({ file, error: (err as NodeJS.ErrnoException).code ?? String(err) });
        continue;
      }
      configs.push({ name, file, module: parseModuleLine(text) });
    }
  }
  return { configs, unreadable };
}

/** The `module:` value of a p11-kit config (key: value lines, '#' comments). */
export function parseModuleLine(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*module\s*:\s*(.*?)\s*$/.exec(line);
    if (m && m[1]) return m[1];
  }
  return undefined;
}

function absoluteModule(module: string, moduleDirs: string[]): string {
  if (path.isAbsolute(module)) return module;
  for (const dir of moduleDirs) {
    const p = path.join(dir, module);
    if (fs.existsSync(p)) return p;
  }
  const dir = moduleDirs.find((d) => fs.existsSync(d)) ?? moduleDirs[0];
  return path.join(dir, module);
}

/** No module named: $TT_AGENT_MODULE, else OpenSC (the usual smart card module) if installed. */
function defaultModule(options: ResolveOptions): ResolvedModule {
  const env = options.env ?? process.env;
  if (env.TT_AGENT_MODULE) return { modulePath: env.TT_AGENT_MODULE, source: 'env' };
  try {
    const r = byName('opensc-pkcs11', options);
    if (fs.existsSync(r.modulePath)) return { ...r, source: 'default' };
  } catch {
    // fall through to the well-known paths
  }
  for (const dir of options.moduleDirs ?? p11KitModuleDirs()) {
    const p = path.join(dir, 'opensc-pkcs11.so');
    if (fs.existsSync(p)) return { modulePath: p, source: 'default' };
  }
  throw new ModuleSpecError('', 'no-default-module', 'no module given, TT_AGENT_MODULE is not set and OpenSC is not installed');
}
