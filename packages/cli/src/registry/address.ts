import { RegistryPaths } from '@trellis/core/spi';
import { badFlag, usage } from '../cli-error.js';

/** A registry given on the command line: `etcd://h:p[,h:p…]` or `zk://h:p[,h:p…][/chroot]`. */
export type RegistryAddress =
  | { readonly kind: 'etcd'; readonly endpoints: readonly string[]; readonly root: string; readonly display: string }
  | { readonly kind: 'zookeeper'; readonly connectString: string; readonly root: string; readonly display: string };

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;
const ROOT = /^(\/[A-Za-z0-9_.-]+)+$/;
const FORMAT = 'etcd://host:port[,host:port…] or zk://host:port[,host:port…][/chroot]';

export const REGISTRY_ENV = 'TRELLIS_REGISTRY';

function hostPorts(list: string, given: string): string[] {
  const entries = list.split(',').map((s) => s.trim());
  for (const entry of entries) {
    const match = HOST_PORT.exec(entry);
    if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      throw usage(`registry address "${given}": "${entry}" is not host:port`, `write it as ${FORMAT}`);
    }
  }
  return entries;
}

/** Parses `--registry` (or TRELLIS_REGISTRY); a wrong one is a usage error saying the format. */
export function parseRegistryAddress(value: string, root: string = RegistryPaths.DEFAULT_ROOT): RegistryAddress {
  if (!ROOT.test(root)) throw badFlag('--root', root, 'a key prefix', 'write it like /trellis (leading "/", no trailing "/")');
  const scheme = /^([a-z0-9+]+):\/\/(.*)$/i.exec(value.trim());
  if (scheme === null) throw usage(`registry address "${value}" has no scheme`, `write it as ${FORMAT}`);
  const [, kind, rest] = scheme as unknown as [string, string, string];
  switch (kind.toLowerCase()) {
    case 'etcd': {
      if (rest.includes('/') && rest.slice(rest.indexOf('/')) !== '/') {
        throw usage(`registry address "${value}": etcd addresses have no path`, 'give the key prefix with --root');
      }
      const endpoints = hostPorts(rest.replace(/\/$/, ''), value).map((hp) => `http://${hp}`);
      return { kind: 'etcd', endpoints, root, display: `etcd://${rest.replace(/\/$/, '')}` };
    }
    case 'zk':
    case 'zookeeper': {
      const slash = rest.indexOf('/');
      const hosts = slash === -1 ? rest : rest.slice(0, slash);
      const chroot = slash === -1 ? '' : rest.slice(slash);
      if (chroot !== '' && !ROOT.test(chroot)) throw usage(`registry address "${value}": "${chroot}" is not a ZooKeeper chroot`, `write it as ${FORMAT}`);
      const connectString = `${hostPorts(hosts, value).join(',')}${chroot}`;
      return { kind: 'zookeeper', connectString, root, display: `zk://${connectString}` };
    }
    default:
      throw usage(`registry address "${value}": unknown scheme "${kind}://"`, `write it as ${FORMAT}`);
  }
}

/** `--registry`, else TRELLIS_REGISTRY, else a usage error naming both. */
export function requireRegistry(flag: string | undefined, env: Readonly<Record<string, string | undefined>>, root?: string): RegistryAddress {
  const value = flag ?? env[REGISTRY_ENV];
  if (value === undefined || value.trim() === '') {
    throw usage('this command needs a registry', `pass --registry ${FORMAT}, or set ${REGISTRY_ENV}`);
  }
  return parseRegistryAddress(value, root);
}
