#!/usr/bin/env node
// Builds the N-API addon (native/tt_native.c) with npm's node-gyp, against the installed Node's
// headers when they are there (no download from nodejs.org). Run by `npm install` (the package's
// install script) and `npm run build:native`. Extra arguments go to node-gyp.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { headersDir, whatToInstall } = require('./node-headers.cjs');

const args = ['rebuild', ...process.argv.slice(2)];
if (!process.env.npm_config_nodedir && !args.some((a) => a.startsWith('--nodedir'))) {
  const dir = headersDir();
  if (dir) args.push(`--nodedir=${dir}`);
  else process.stderr.write(`tt-agent: ${whatToInstall()}`);
}

// npm names its node-gyp in npm_config_node_gyp; outside npm, the one on PATH.
const gyp = process.env.npm_config_node_gyp;
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit', cwd: path.join(__dirname, '..') })
  : spawnSync('node-gyp', args, { stdio: 'inherit', cwd: path.join(__dirname, '..') });
if (r.error) {
  process.stderr.write(`tt-agent: cannot run node-gyp (${r.error.message}); it comes with npm: run this through 'npm run build:native'.\n`);
  process.exitCode = 1;
} else if (r.status !== 0) {
  process.stderr.write(
    'tt-agent: building the native addon failed (see above). It needs make, g++ and python3\n' +
      '  (Debian: apt-get install make g++ python3) and Node\'s C headers.\n',
  );
  process.exitCode = r.status ?? 1;
}
