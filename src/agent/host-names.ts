// Host names for host keys, from the user's plain known_hosts entries (~/.ssh/known_hosts,
// ~/.ssh/known_hosts2 and any `known-hosts` file of the configuration). Each file is read
// again only when it changed, so a lookup per signature costs a stat per file.
import { readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addKnownHostNames, type HostNamesByKey } from '../protocol/known-host-names';

const EMPTY: HostNamesByKey = new Map();

interface Cached {
  stamp: string;
  names: HostNamesByKey;
}

export function defaultKnownHostsFiles(): string[] {
  const ssh = path.join(os.homedir(), '.ssh');
  return [path.join(ssh, 'known_hosts'), path.join(ssh, 'known_hosts2')];
}

export class HostNames {
  private readonly cache = new Map<string, Cached>();

  /** The plain names `files` give this host key, in file order. */
  namesOf(hostKeyBlob: Buffer, files: readonly string[]): string[] {
    const key = hostKeyBlob.toString('base64');
    const out: string[] = [];
    for (const file of files) {
      for (const n of this.load(expandHome(file)).get(key) ?? []) if (!out.includes(n)) out.push(n);
    }
    return out;
  }

  private load(file: string): HostNamesByKey {
    let stamp: string;
    try {
      // No exception for a missing file (known_hosts2 usually is): this runs on every signature.
      const st = statSync(file, { bigint: true, throwIfNoEntry: false });
      if (!st?.isFile()) {
        this.cache.delete(file);
        return EMPTY;
      }
      stamp = `${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch {
      this.cache.delete(file);
      return EMPTY;
    }
    const hit = this.cache.get(file);
    if (hit && hit.stamp === stamp) return hit.names;
    let names: HostNamesByKey;
    try {
      names = addKnownHostNames(readFileSync(file, 'utf8'));
    } catch {
      names = new Map();
    }
    this.cache.set(file, { stamp, names });
    return names;
  }
}

function expandHome(file: string): string {
  return file === '~' || file.startsWith('~/') ? path.join(os.homedir(), file.slice(1)) : file;
}
