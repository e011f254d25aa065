import { DEFAULT_GROUP, MAX_TIMEOUT_MS } from '@trellis/core';
import { badFlag } from './cli-error.js';
import { Output, outputSettings, type Streams } from './output.js';
import { requireRegistry, type RegistryAddress } from './registry/address.js';
import { RegistryClient } from './registry/registry-client.js';

/** The global options every command sees (`trellis --registry … ls`, or after the command). */
export interface GlobalFlags {
  readonly registry?: string;
  readonly root?: string;
  readonly group?: string;
  readonly registryTimeout?: string;
  readonly output?: string;
  readonly json?: boolean;
  readonly color?: boolean;
}

/**
 * What a running command needs besides its own arguments: the output, the registry (opened on first
 * use and closed when the command ends), the group, and the streams. One per command run.
 */
export class CommandContext {
  readonly out: Output;
  readonly group: string;
  private registryClient: RegistryClient | undefined;

  constructor(readonly flags: GlobalFlags, readonly streams: Streams) {
    this.out = new Output(outputSettings(flags, streams), streams);
    this.group = flags.group ?? DEFAULT_GROUP;
    if (!/^[A-Za-z0-9_.-]+$/.test(this.group)) throw badFlag('--group', this.group, 'a group name of letters, digits, "_", "." and "-"');
  }

  get registryTimeoutMs(): number {
    return positiveMs('--registry-timeout', this.flags.registryTimeout, 3000);
  }

  /** Whether a registry was given (flag or TRELLIS_REGISTRY). */
  get hasRegistry(): boolean {
    return (this.flags.registry ?? this.streams.env.TRELLIS_REGISTRY ?? '').trim() !== '';
  }

  registryAddress(): RegistryAddress {
    return requireRegistry(this.flags.registry, this.streams.env, this.flags.root);
  }

  registry(): RegistryClient {
    this.registryClient ??= new RegistryClient(this.registryAddress(), this.registryTimeoutMs);
    return this.registryClient;
  }

  async close(): Promise<void> {
    await this.registryClient?.close();
  }
}

/** `--timeout 500`, `--timeout 2s`, `--timeout 1.5s`, `--timeout 250ms`; at most the kernel's longest timeout (about 24.8 days). */
export function positiveMs(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  const ms = match ? Number(match[1]) * (match[2] === 's' ? 1000 : match[2] === 'm' ? 60_000 : 1) : NaN;
  if (!(ms > 0) || !(ms <= MAX_TIMEOUT_MS)) {
    throw badFlag(flag, value, `a duration up to ${MAX_TIMEOUT_MS} ms`, 'write milliseconds (500) or with a unit: 250ms, 2s, 1m');
  }
  return ms;
}
