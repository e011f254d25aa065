import type { KindName } from './worker.js';

export interface Point {
  readonly concurrency: number;
  readonly connections: number;
}

export interface Scenario {
  readonly id: string;
  readonly label: string;
  readonly kind: KindName;
  readonly plugins: boolean;
  /** With plugins: the OpenTelemetry SDK's sampling ratio (spans go to a no-op exporter); none: no SDK. */
  readonly sampleRatio?: number;
  readonly points: readonly Point[];
}

const ONE = (concurrency: number): Point => ({ concurrency, connections: 1 });
const FULL = [ONE(1), ONE(32), ONE(256), { concurrency: 256, connections: 4 }];

/** Every scenario, in the order the table prints them. */
export const SCENARIOS: readonly Scenario[] = [
  { id: 'trellis', label: 'Trellis (bare kernel)', kind: 'trellis', plugins: false, points: FULL },
  { id: 'trellis-governance-nosdk', label: 'Trellis + all plugins, no OTel SDK', kind: 'trellis', plugins: true, points: [ONE(32), ONE(256)] },
  { id: 'trellis-governance-1pct', label: 'Trellis + all plugins, 1 % traced', kind: 'trellis', plugins: true, sampleRatio: 0.01, points: [ONE(32), ONE(256)] },
  { id: 'trellis-governance', label: 'Trellis + all plugins, every call traced', kind: 'trellis', plugins: true, sampleRatio: 1, points: [ONE(1), ONE(32), ONE(256)] },
  { id: 'grpc-js', label: '@grpc/grpc-js 1.14', kind: 'grpc', plugins: false, points: FULL },
  { id: 'raw', label: 'old raw (toObject/fromObject)', kind: 'raw', plugins: false, points: FULL },
  { id: 'tight-raw', label: 'tight raw (the limit)', kind: 'tight-raw', plugins: false, points: FULL },
];

/** The scenarios `--profile` compares by default: the bare kernel against the limit. */
export const PROFILE_SCENARIOS = ['trellis', 'tight-raw'];
export const PROFILE_POINTS: readonly Point[] = [ONE(32), ONE(256)];

export const pointKey = (p: Point): string => (p.connections === 1 ? `${p.concurrency}` : `${p.concurrency}x${p.connections}`);
