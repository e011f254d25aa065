import { invalidOption } from '../errors.js';
import { DEFAULT_FRAME_LIMITS, MAX_HEADER_LENGTH, MIN_HEADER_SIZE_LIMIT, type FrameLimits } from './frame.js';

/** The frame limits of either side, defaults filled in and checked (ERR_INVALID_OPTION). */
export function resolveFrameLimits(limits: Partial<FrameLimits> | undefined): FrameLimits {
  const resolved = { ...DEFAULT_FRAME_LIMITS, ...limits };
  integerOption('limits.maxHeaderSize', resolved.maxHeaderSize, MIN_HEADER_SIZE_LIMIT, MAX_HEADER_LENGTH);
  integerOption('limits.maxBodySize', resolved.maxBodySize, 1, 0xffffffff);
  integerOption('limits.maxMetadataEntries', resolved.maxMetadataEntries, 0, 0xffffffff);
  return resolved;
}

/** `value` (or `fallback` when undefined) as an integer in min..max, else ERR_INVALID_OPTION. */
export function integerOption(name: string, value: number | undefined, min: number, max: number, fallback?: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved! < min || resolved! > max) {
    throw invalidOption(name, resolved, `an integer in ${min}..${max}`);
  }
  return resolved!;
}
