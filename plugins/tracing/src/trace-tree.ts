import { SpanKind, SpanStatusCode, type Attributes, type HrTime, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import { Code } from '@trellis/core';
import { ATTEMPT_EVENT, TrellisAttributes } from './attributes.js';

/** The parts of an exported span (the SDK's ReadableSpan) the tree needs. */
export interface TreeSpan {
  readonly name: string;
  readonly kind: SpanKind;
  spanContext(): SpanContext;
  readonly parentSpanContext?: SpanContext;
  readonly startTime: HrTime;
  readonly duration: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly events: readonly { readonly name: string; readonly attributes?: Attributes }[];
  readonly resource?: { readonly attributes: Attributes };
}

function ms(time: HrTime): number {
  return time[0] * 1e3 + time[1] / 1e6;
}

function statusOf(attributes: Attributes | undefined): string {
  const code = attributes?.['rpc.status_code'] ?? attributes?.[TrellisAttributes.STATUS_CODE];
  if (code === undefined) return '';
  return typeof code === 'number' ? Code[code] ?? String(code) : String(code);
}

function describe(span: TreeSpan): string {
  const parts = [span.name, SpanKind[span.kind] ?? String(span.kind)];
  const service = span.resource?.attributes['service.name'];
  // The SDK's fallback name says nothing; a configured one says which service made the span.
  if (service !== undefined && !String(service).startsWith('unknown_service')) parts.push(`(${String(service)})`);
  const host = span.attributes['server.address'];
  if (host !== undefined) parts.push(`→ ${String(host)}:${String(span.attributes['server.port'])}`);
  parts.push(`${ms(span.duration).toFixed(2)} ms`);
  const code = statusOf(span.attributes);
  if (code !== '') parts.push(code);
  if (span.status.code === SpanStatusCode.ERROR) parts.push(`ERROR: ${span.status.message ?? ''}`.trim());
  return parts.join('  ');
}

function describeAttempt(attributes: Attributes): string {
  const a = attributes;
  const transparent = a[TrellisAttributes.ATTEMPT_TRANSPARENT] === true ? ', transparent' : '';
  const duration = Number(a[TrellisAttributes.ATTEMPT_DURATION_MS] ?? 0).toFixed(2);
  return `· send #${String(a[TrellisAttributes.ATTEMPT_INDEX])} (attempt ${String(a[TrellisAttributes.ATTEMPT])}${transparent}) → ` +
    `${String(a['server.address'])}:${String(a['server.port'])}  ${statusOf(a)}  ${duration} ms`;
}

/**
 * Renders exported spans as one indented tree per trace, children in start order, attempts as
 * `·` lines under their call. For demos and debugging: feed it an InMemorySpanExporter's spans.
 */
export function formatTraceTree(spans: readonly TreeSpan[]): string {
  const byId = new Map<string, TreeSpan>();
  for (const span of spans) byId.set(span.spanContext().spanId, span);
  const children = new Map<string, TreeSpan[]>();
  const roots: TreeSpan[] = [];
  for (const span of spans) {
    const parentId = span.parentSpanContext?.spanId;
    if (parentId !== undefined && byId.has(parentId)) {
      const list = children.get(parentId) ?? [];
      list.push(span);
      children.set(parentId, list);
    } else {
      roots.push(span);
    }
  }
  const byStart = (a: TreeSpan, b: TreeSpan): number => ms(a.startTime) - ms(b.startTime);
  const lines: string[] = [];
  const walk = (span: TreeSpan, prefix: string, last: boolean, top: boolean): void => {
    lines.push(top ? describe(span) : `${prefix}${last ? '└─ ' : '├─ '}${describe(span)}`);
    const inner = top ? '' : prefix + (last ? '   ' : '│  ');
    const kids = (children.get(span.spanContext().spanId) ?? []).sort(byStart);
    for (const event of span.events) {
      if (event.name === ATTEMPT_EVENT && event.attributes) lines.push(`${inner}${kids.length > 0 ? '│  ' : '   '}${describeAttempt(event.attributes)}`);
    }
    kids.forEach((kid, i) => walk(kid, inner, i === kids.length - 1, false));
  };
  const traces = new Map<string, TreeSpan[]>();
  for (const root of roots.sort(byStart)) {
    const id = root.spanContext().traceId;
    traces.set(id, [...(traces.get(id) ?? []), root]);
  }
  for (const [traceId, traceRoots] of traces) {
    lines.push(`trace ${traceId}`);
    for (const root of traceRoots) walk(root, '', true, true);
  }
  return lines.join('\n');
}
