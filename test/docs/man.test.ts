// The manual and the README against the program: the pages render without a groff warning,
// every command and every option `--help` lists is in the command's own manual section (so
// help and man page cannot drift apart), the agent's hand-parsed flags and the environment
// variables the code reads are documented, and the README's Quick start is what CI runs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GLOBAL_OPTIONS, parseHelpCommands, parseHelpOptions, ROOT, runHelp } from './help-options';
import { mentionsOption, readManSections, wholeSection, type ManSection } from './man-source';

const MAN_PAGE = path.join(ROOT, 'man/tt-agent.1');
const MAN_PAGES = [MAN_PAGE, path.join(ROOT, 'man/token-tools.conf.5'), path.join(ROOT, 'man/tt-agent-config.5')];
const haveGroff = spawnSync('groff', ['--version'], { stdio: 'ignore' }).status === 0;
const sections = readManSections(MAN_PAGE);

/** Subcommand names, from the table in src/cli/commands.ts (the CLI's own source of truth). */
function commandNames(): string[] {
  const src = fs.readFileSync(path.join(ROOT, 'src/cli/commands.ts'), 'utf8');
  const table = /const COMMANDS[^{]*{([\s\S]*?)\n};/.exec(src);
  assert.ok(table, 'the COMMANDS table in src/cli/commands.ts');
  return [...table[1].matchAll(/^\s*'?([\w-]+)'?\s*:/gm)].map((m) => m[1]);
}

/** The manual subsection of `tt-agent NAME` (its title starts with the command). */
function commandSection(name: string): ManSection | undefined {
  return sections.find((s) => s.level === 'SS' && new RegExp(`^tt-agent ${name}( |$)`).test(s.title));
}

function section(title: string): ManSection {
  const found = wholeSection(sections, title);
  assert.ok(found !== undefined, `the manual has a ${title} section`);
  return found;
}

function sectionText(title: string): string {
  return section(title).text;
}

test('the manual pages render with groff -ww without a warning', { skip: !haveGroff && 'groff is not installed (apt-get install groff-base)' }, () => {
  for (const page of MAN_PAGES) {
    for (const width of ['', '-rLL=80n', '-rLL=65n']) {
      const args = ['-man', '-Tutf8', '-ww', '-z', ...(width ? [width] : []), page];
      const r = spawnSync('groff', args, { encoding: 'utf8' });
      assert.equal(r.status, 0, `groff ${args.join(' ')} exit status`);
      assert.equal(r.stderr, '', `groff ${args.join(' ')} warnings`);
    }
  }
});

test('the manual has the sections a reader looks for', () => {
  const titles = sections.filter((s) => s.level === 'SH').map((s) => s.title);
  for (const t of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'THE AGENT', 'COMMANDS', 'PINS', 'HOT-PLUG', 'SECURITY', 'PROTOCOL', 'ENVIRONMENT', 'FILES', 'EXIT STATUS', 'EXAMPLES', 'SEE ALSO']) {
    assert.ok(titles.includes(t), `section ${t} (have: ${titles.join(', ')})`);
  }
  const seeAlso = sectionText('SEE ALSO');
  for (const ref of ['ssh-agent(1)', 'ssh-add(1)', 'ssh(1)', 'ssh-keygen(1)', 'pkcs11-tool(1)', 'p11tool(1)', 'token-tools.conf(5)', 'p11-kit(8)']) {
    assert.ok(seeAlso.includes(ref), `SEE ALSO names ${ref}`);
  }
});

test('every command has a manual section that lists every option its --help shows', async (t) => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist/cli/main.js')), 'the compiled CLI (npm run build) is needed for --help');
  const names = commandNames();
  assert.ok(names.length >= 11, `commands found in src/cli/commands.ts: ${names.join(', ')}`);

  const topHelp = await runHelp([]);
  assert.deepEqual(parseHelpCommands(topHelp).sort(), [...names].sort(), 'tt-agent --help lists the commands of commands.ts');
  const synopsis = sectionText('SYNOPSIS');
  const everyCommand = sections.find((s) => s.level === 'SS' && s.title === 'Options for every command');
  assert.ok(everyCommand, 'a subsection "Options for every command" documents the global options');

  const helps = await Promise.all(names.map((n) => runHelp([n])));
  for (const [i, name] of names.entries()) {
    await t.test(name, () => {
      assert.ok(mentionsOption(synopsis, `tt-agent ${name}`) || synopsis.includes(`tt-agent ${name} `) || synopsis.includes(`tt-agent ${name}\n`), `SYNOPSIS shows tt-agent ${name}`);
      const section = commandSection(name);
      assert.ok(section, `a subsection ".SS tt-agent ${name} ..." in the manual`);
      const options = parseHelpOptions(helps[i]);
      assert.ok(options.some((o) => o.long === '--help'), `the help of ${name} was parsed (${helps[i].slice(0, 80)})`);
      for (const o of options) {
        const home = GLOBAL_OPTIONS.includes(o.long) ? everyCommand : section;
        const where = home.text;
        // An option is documented when it has an item of its own (a .TP tag), not merely named in prose.
        const tags = home.tags.join('\n');
        const whereName = GLOBAL_OPTIONS.includes(o.long) ? '"Options for every command"' : `the ${name} section`;
        assert.ok(mentionsOption(tags, o.long), `${o.long} (tt-agent ${name} --help) has no item in ${whereName}`);
        if (o.short) assert.ok(mentionsOption(tags, o.short), `${o.short}, alias of ${o.long}, is not in its item in ${whereName}`);
        if (o.type === 'boolean' && o.default === 'true') {
          assert.ok(mentionsOption(tags, `--no-${o.long.slice(2)}`), `--no-${o.long.slice(2)} (${o.long} defaults to true) has no item in ${whereName}`);
        }
        if (o.default !== undefined && o.type !== 'boolean') {
          assert.ok(where.includes(o.default), `${o.long} defaults to ${o.default} in --help; ${whereName} does not say so`);
        }
        for (const c of o.choices) assert.ok(where.includes(c), `${o.long} choice ${c} is missing from ${whereName}`);
        // Defaults yargs only shows in the description, e.g. "(default 128; K/M suffixes)".
        for (const m of o.text.matchAll(/\(default:? (\d+)\b/g)) {
          assert.ok(new RegExp(`\\b${m[1]}\\b`).test(where), `${o.long}: --help says default ${m[1]}; ${whereName} does not`);
        }
      }
    });
  }
});

test('the agent section documents every flag src/cli/agent-args.ts parses', () => {
  const src = fs.readFileSync(path.join(ROOT, 'src/cli/agent-args.ts'), 'utf8');
  const parser = /function applyFlag[\s\S]*?\n}\n/.exec(src)?.[0];
  assert.ok(parser, 'applyFlag in src/cli/agent-args.ts');
  const flags = [...parser.matchAll(/case '(\w)':/g)].map((m) => `-${m[1]}`);
  for (const f of ['-a', '-c', '-s', '-D', '-d', '-k', '-t', '-P']) assert.ok(flags.includes(f), `agent.ts parses ${f}`);
  const agentTags = section('THE AGENT').tags.join('\n');
  for (const f of flags) assert.ok(mentionsOption(agentTags, f), `agent flag ${f} has no item in THE AGENT section`);

  // The usage line the agent prints and the SYNOPSIS agree on the flags.
  const usage = /const USAGE =([\s\S]*?);\n/.exec(src)?.[1] ?? '';
  const synopsis = sectionText('SYNOPSIS');
  for (const m of usage.matchAll(/\[-(\w+)|\| -(\w)|-(\w) /g)) {
    for (const letter of (m[1] ?? m[2] ?? m[3]).split('')) {
      assert.ok(new RegExp(`-\\w*${letter}`).test(synopsis), `SYNOPSIS shows -${letter} like the agent's usage line`);
    }
  }
});

/** Every .ts file under src/, read once. */
function sourceFiles(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) out.push({ file: p, text: fs.readFileSync(p, 'utf8') });
    }
  };
  walk(path.join(ROOT, 'src'));
  return out;
}

test('every agent extension the code defines is in PROTOCOL', () => {
  const protocol = sectionText('PROTOCOL');
  const names = new Set<string>();
  for (const { text } of sourceFiles()) {
    for (const m of text.matchAll(/(?:_EXTENSION|SESSION_BIND|EXTENSION_QUERY) = '([^']+)'/g)) names.add(m[1]);
  }
  assert.ok(names.has('session-bind@openssh.com') && names.has('query'), `extensions found: ${[...names].join(', ')}`);
  for (const n of names) assert.ok(protocol.includes(n), `extension ${n} is missing from PROTOCOL`);
});

test('every environment variable the code reads is in ENVIRONMENT', () => {
  const env = sectionText('ENVIRONMENT');
  const names = new Set<string>();
  for (const { text } of sourceFiles()) {
    for (const re of [/process\.env\.([A-Z][A-Z0-9_]+)/g, /\benv\.([A-Z][A-Z0-9_]+)/g, /env\[['"]([A-Z][A-Z0-9_]+)['"]\]/g, /_ENV = '([A-Z][A-Z0-9_]+)'/g]) {
      for (const m of text.matchAll(re)) names.add(m[1]);
    }
  }
  // Not for users: the starter hands its child the private directory to remove on exit.
  // PATH, TERM and the locale variables mean what they always mean.
  const internal = new Set(['TT_AGENT_DISPOSABLE_DIR', 'PATH', 'TERM', 'LANG', 'LC_ALL', 'LC_CTYPE']);
  const required = ['SSH_AUTH_SOCK', 'SSH_AGENT_PID', 'SSH_ASKPASS', 'SSH_ASKPASS_REQUIRE', 'DISPLAY', 'XDG_RUNTIME_DIR', 'SOFTHSM2_CONF', 'TT_AGENT_MODULE', 'TT_AGENT_DEBUG', 'LISTEN_FDS', 'LISTEN_PID'];
  const missing = [...new Set([...names, ...required])].filter((n) => !internal.has(n) && !new RegExp(`\\b${n}\\b`).test(env));
  assert.deepEqual(missing, [], 'environment variables read in src/ but not in the ENVIRONMENT section');
});

test("README's Quick start has exactly the two commands, and .ci/run runs the test one", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const quick = /^## Quick start\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  assert.ok(quick, 'README has a "## Quick start" section');
  const blocks = [...quick.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  const commands = blocks.flatMap((b) => b.split('\n')).map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l !== '');
  assert.equal(commands.length, 2, `Quick start commands: ${JSON.stringify(commands)}`);
  const testCommand = commands.find((c) => /\bnpm test\b/.test(c));
  assert.ok(testCommand, 'one Quick start command runs the tests');
  assert.ok(commands.some((c) => c !== testCommand && /\bnpm run demo\b/.test(c)), 'the other runs the demo');

  const ci = fs
    .readFileSync(path.join(ROOT, '.ci/run'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !/^(set|cd) /.test(l));
  assert.deepEqual(ci, [testCommand], '.ci/run runs exactly the README test command');

  // And that command reaches this file: npm test runs every test/**/*.test.ts.
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.test, /bash scripts\/test\.sh$/, 'npm test runs scripts/test.sh with no file arguments');
  const runner = fs.readFileSync(path.join(ROOT, 'scripts/test.sh'), 'utf8');
  assert.match(runner, /find test -name '\*\.test\.ts'/, 'scripts/test.sh collects every test/**/*.test.ts');
});
