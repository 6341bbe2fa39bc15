#!/usr/bin/env node
// npm's `prepare`: compiles src/ to dist/ (npm pack, npm publish, npm install in a clone, and
// a git dependency, where npm has installed the dev dependencies first).
// `npm install -g .` in a fresh clone is the odd one: npm links the clone into the global tree
// and installs none of its dependencies, yet the linked tt-agent loads them from the clone.
// Then this runs `npm ci` in the clone first (which builds pkcs11js and the addon, and runs
// this script again, now with TypeScript present).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { headersDir } = require('./node-headers.cjs');

const root = path.join(__dirname, '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function run(args, env = process.env) {
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root, env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

if (fs.existsSync(tsc)) {
  process.exitCode = run([tsc, '-p', 'tsconfig.json']);
} else if (process.env.npm_execpath && fs.existsSync(path.join(root, 'package-lock.json'))) {
  process.stderr.write('tt-agent: installing the dependencies in this clone (npm ci), then building\n');
  // The outer npm's global mode and prefix belong to the link it is making, not to this clone.
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^npm_config_(global|location|prefix)$/i.test(k)) delete env[k];
  if (!env.npm_config_nodedir && headersDir()) env.npm_config_nodedir = headersDir();
  process.exitCode = run([process.env.npm_execpath, 'ci', '--no-audit', '--no-fund'], env);
} else {
  process.stderr.write("tt-agent: TypeScript is not installed here: run 'npm ci' (or scripts/install.sh) first.\n");
  process.exitCode = 1;
}
