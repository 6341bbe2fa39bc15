import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModuleSpecError, resolveModuleSpec } from '../../src/pkcs11';

function tempDirs() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-p11kit-'));
  const user = path.join(root, 'user');
  const system = path.join(root, 'system');
  const libdir = path.join(root, 'lib');
  for (const d of [user, system, libdir]) fs.mkdirSync(d);
  return { root, user, system, libdir, opts: { configDirs: [user, system], moduleDirs: [libdir] } };
}

test('the installed p11-kit configs resolve opensc and softhsm2', () => {
  assert.equal(resolveModuleSpec('opensc').modulePath, '/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so');
  const soft = resolveModuleSpec('softhsm2');
  assert.equal(soft.modulePath, '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so');
  assert.equal(soft.configFile, '/usr/share/p11-kit/modules/softhsm2.module');
});

test('relative module: lines, the user overriding the system, library names', () => {
  const t = tempDirs();
  try {
    fs.writeFileSync(path.join(t.libdir, 'acme-pkcs11.so'), '');
    fs.writeFileSync(path.join(t.system, 'acme-pkcs11.module'), 'module: acme-pkcs11.so\npriority: 3\n');
    fs.writeFileSync(path.join(t.system, 'vendor.module'), 'module: /opt/vendor/libvendorp11.so\n');
    fs.writeFileSync(path.join(t.user, 'vendor.module'), '# mine\n  module : /home/me/libvendor.so  \n');
    assert.equal(resolveModuleSpec('acme', t.opts).modulePath, path.join(t.libdir, 'acme-pkcs11.so'));
    assert.equal(resolveModuleSpec('acme-pkcs11', t.opts).modulePath, path.join(t.libdir, 'acme-pkcs11.so'));
    assert.equal(resolveModuleSpec('vendor', t.opts).modulePath, '/home/me/libvendor.so');
    const viaUri = resolveModuleSpec('pkcs11:token=x?module-name=vendor', t.opts);
    assert.equal(viaUri.modulePath, '/home/me/libvendor.so');
    assert.equal(viaUri.uri?.token, 'x');
  } finally {
    fs.rmSync(t.root, { recursive: true, force: true });
  }
});

test('paths, URIs with module-path, and the default', () => {
  assert.deepEqual(resolveModuleSpec('./lib/x.so'), { modulePath: './lib/x.so', source: 'path' });
  assert.equal(resolveModuleSpec('pkcs11:?module-path=/a/b.so').modulePath, '/a/b.so');
  assert.equal(resolveModuleSpec(undefined, { env: { TT_AGENT_MODULE: '/m.so' } }).source, 'env');
  const def = resolveModuleSpec(undefined, { env: {} });
  assert.equal(def.modulePath, '/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so');
  assert.equal(def.source, 'default');
});

test('unknown names, unreadable configs and configs without module: are ModuleSpecErrors', () => {
  const t = tempDirs();
  try {
    fs.mkdirSync(path.join(t.user, 'broken.module'));
    fs.writeFileSync(path.join(t.system, 'empty.module'), '# nothing\n');
    const reason = (spec: string) => {
      try {
        resolveModuleSpec(spec, t.opts);
      } catch (e) {
        assert.ok(e instanceof ModuleSpecError);
        return e.reason;
      }
      return 'resolved';
    };
    assert.equal(reason('broken'), 'config-unreadable');
    assert.equal(reason('empty'), 'config-without-module');
    fs.rmdirSync(path.join(t.user, 'broken.module'));
    assert.equal(reason('nothing'), 'unknown-module-name');
    assert.equal(
      (() => {
        try {
          resolveModuleSpec(undefined, { env: {}, configDirs: [t.user], moduleDirs: [t.libdir] });
        } catch (e) {
          return (e as ModuleSpecError).reason;
        }
      })(),
      'no-default-module',
    );
  } finally {
    fs.rmSync(t.root, { recursive: true, force: true });
  }
});
