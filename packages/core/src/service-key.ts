import { TrellisError, ErrorCodes } from './errors.js';

/** A service is identified by group / name / version, as in Dubbo. */
export interface ServiceKey {
  readonly group: string;
  /** Fully qualified protobuf service name, e.g. `helloworld.Greeter`. */
  readonly name: string;
  readonly version: string;
}

export const DEFAULT_GROUP = 'default';
export const DEFAULT_VERSION = '1.0.0';

const SEGMENT = /^[A-Za-z0-9_.-]+$/;

export function serviceKey(name: string, options: { group?: string; version?: string } = {}): ServiceKey {
  const key = { group: options.group ?? DEFAULT_GROUP, name, version: options.version ?? DEFAULT_VERSION };
  for (const [field, value] of Object.entries(key)) {
    if (!SEGMENT.test(value)) {
      throw new TrellisError(
        ErrorCodes.SERVICE_INVALID,
        `service ${field} ${JSON.stringify(value)} may only contain letters, digits, "_", "." and "-"`,
      );
    }
  }
  return key;
}

/** `group/name:version` — the form used in logs and error messages. */
export function formatServiceKey(key: ServiceKey): string {
  return `${key.group}/${key.name}:${key.version}`;
}
