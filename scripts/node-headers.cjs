#!/usr/bin/env node
// Where the running Node keeps its C headers, so that node-gyp compiles pkcs11js and the addon
// against them instead of downloading them from nodejs.org (which an offline machine, or one
// that reaches only the npm registry, cannot).
//   node scripts/node-headers.cjs --dir    print that directory (node-gyp's --nodedir), or say what to install
//   node scripts/node-headers.cjs --seed   (preinstall) fill node-gyp's header cache for this Node from it
// Node's official builds, NodeSource's and Debian's libnode-dev put the headers under the prefix
// Node runs from: <prefix>/bin/node, <prefix>/include/node/node_api.h.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const version = process.versions.node;

/** The prefix holding this Node's own headers, or undefined. */
function headersDir() {
  const prefix = path.dirname(path.dirname(fs.realpathSync(process.execPath)));
  try {
    const h = fs.readFileSync(path.join(prefix, 'include', 'node', 'node_version.h'), 'utf8');
    const part = (name) => new RegExp(`#define ${name} (\\d+)`).exec(h)?.[1];
    const found = `${part('NODE_MAJOR_VERSION')}.${part('NODE_MINOR_VERSION')}.${part('NODE_PATCH_VERSION')}`;
    if (found === version && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  } catch {
    // no headers there
  }
  return undefined;
}

function whatToInstall() {
  const prefix = path.dirname(path.dirname(process.execPath));
  return (
    `Node ${version}'s C headers are not in ${path.join(prefix, 'include', 'node')}, so node-gyp will try to download them from nodejs.org.\n` +
    '  Offline, install them first: Debian/Ubuntu nodejs: apt-get install libnode-dev; nodejs.org and NodeSource builds\n' +
    '  ship them (reinstall Node from there); or point npm at a copy: npm config set nodedir DIR (DIR/include/node/node_api.h).\n'
  );
}

/**
 * node-gyp's own cache (what it would download into): $npm_config_devdir, else
 * $XDG_CACHE_HOME/node-gyp or ~/.cache/node-gyp, one directory per Node version.
 */
function nodeGypCache() {
  if (process.env.npm_config_devdir) return process.env.npm_config_devdir;
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'node-gyp');
}

function installVersion() {
  // The cache layout version node-gyp checks; it redownloads when this is older than its own.
  try {
    return require(path.join(path.dirname(process.env.npm_config_node_gyp), '..', 'package.json')).installVersion;
  } catch {
    return 11;
  }
}

/**
 * npm builds dependencies (pkcs11js) with its own node-gyp and without our --nodedir; they run
 * after every package's preinstall. Pointing node-gyp's cache entry for this exact Node version
 * at the installed headers lets them build offline too. Leaves an existing entry alone.
 */
function seed() {
  if (process.env.npm_config_nodedir) return;
  const dir = headersDir();
  if (!dir) {
    process.stderr.write(`tt-agent: ${whatToInstall()}`);
    return;
  }
  const entry = path.join(nodeGypCache(), version);
  if (fs.existsSync(path.join(entry, 'include', 'node', 'common.gypi'))) return;
  try {
    fs.mkdirSync(path.join(entry, 'include'), { recursive: true });
    fs.rmSync(path.join(entry, 'include', 'node'), { recursive: true, force: true });
    fs.symlinkSync(path.join(dir, 'include', 'node'), path.join(entry, 'include', 'node'));
    fs.writeFileSync(path.join(entry, 'installVersion'), `${installVersion()}\n`);
  } catch (err) {
    // Not fatal: node-gyp then downloads as it always did.
    process.stderr.write(`tt-agent: could not point node-gyp's cache at ${dir}/include/node: ${err.message}\n`);
  }
}

if (require.main === module) {
  const mode = process.argv[2];
  if (mode === '--dir') {
    const dir = headersDir();
    if (dir) process.stdout.write(`${dir}\n`);
    else process.stderr.write(`tt-agent: ${whatToInstall()}`);
    process.exitCode = dir ? 0 : 1;
  } else if (mode === '--seed') {
    seed();
  } else {
    process.stderr.write('usage: node scripts/node-headers.cjs --dir | --seed\n');
    process.exitCode = 2;
  }
}

module.exports = { headersDir, whatToInstall };
