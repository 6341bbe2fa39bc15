// p11-kit-proxy.so with a private module list: the proxy loads exactly the modules given here.
// p11-kit reads its module configs from /usr/share/p11-kit/modules and /etc/pkcs11/modules, and
// the user's ~/.config/pkcs11 only when not running as root ("skipping user config in program
// running as root"); it has no environment variable for another directory. So the private
// configs are bound over the system directories inside a private mount namespace, and every
// process that should see them (agent, ssh-agent, ssh-keygen -D) runs in it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mountNsSkipReason, privateMounts, type MountNamespace } from './mount-ns';

/** The name a user types; a symlink to libp11-kit.so.0.x, the path the module host is handed. */
export const P11KIT_PROXY = '/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so';

export interface P11KitView {
  dir: string;
  /** p11-kit-proxy.so */
  module: string;
  /** its realpath, libp11-kit.so.0.x */
  realModule: string;
  ns: MountNamespace;
  cleanup(): Promise<void>;
}

export function p11kitSkipReason(): string | false {
  if (!fs.existsSync(P11KIT_PROXY)) return 'p11-kit-proxy.so is not installed (package p11-kit-modules)';
  return mountNsSkipReason();
}

/** A proxy that loads `modules` (config name → module path) and nothing else. */
export async function makeP11KitView(modules: Record<string, string>): Promise<P11KitView> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-p11kit-'));
  const share = path.join(dir, 'modules');
  const etc = path.join(dir, 'etc-pkcs11');
  fs.mkdirSync(share);
  fs.mkdirSync(path.join(etc, 'modules'), { recursive: true });
  for (const [name, module] of Object.entries(modules)) {
    fs.writeFileSync(path.join(share, `${name}.module`), `module: ${module}\ncritical: yes\n`);
  }
  // No user config either: a root process skips it anyway, this makes it explicit for others.
  fs.writeFileSync(path.join(etc, 'pkcs11.conf'), 'user-config: none\n');
  const ns = await privateMounts({ binds: { '/usr/share/p11-kit/modules': share, '/etc/pkcs11': etc } });
  return {
    dir,
    module: P11KIT_PROXY,
    realModule: fs.realpathSync(P11KIT_PROXY),
    ns,
    cleanup: async () => {
      await ns.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
