import {
  baggageEntryMetadataFromString, propagation, type BaggageEntry, type Context, type TextMapGetter,
  type TextMapPropagator, type TextMapSetter,
} from '@opentelemetry/api';

export const BAGGAGE = 'baggage';

// W3C Baggage limits (§3.3.2), the same @opentelemetry/core applies.
export const BAGGAGE_MAX_PAIRS = 180;
export const BAGGAGE_MAX_PAIR_LENGTH = 4096;
export const BAGGAGE_MAX_LENGTH = 8192;

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.trim());
  } catch {
    return undefined; // a malformed %-escape drops that one member, not the whole header
  }
}

/** Parses a `baggage` header into entries; malformed members are skipped. */
export function parseBaggage(header: string): Record<string, BaggageEntry> {
  const entries: Record<string, BaggageEntry> = {};
  const members = header.split(',');
  for (let i = 0; i < members.length && i < BAGGAGE_MAX_PAIRS; i++) {
    const member = members[i]!;
    const semicolon = member.indexOf(';');
    const pair = semicolon === -1 ? member : member.slice(0, semicolon);
    const equals = pair.indexOf('=');
    if (equals <= 0) continue;
    const key = decode(pair.slice(0, equals));
    const value = decode(pair.slice(equals + 1));
    if (key === undefined || key === '' || value === undefined) continue;
    const entry: BaggageEntry = semicolon === -1
      ? { value }
      : { value, metadata: baggageEntryMetadataFromString(member.slice(semicolon + 1)) };
    entries[key] = entry;
  }
  return entries;
}

/** Serializes baggage entries within the W3C limits: oversized members are dropped, the rest is cut at the total. */
export function serializeBaggage(entries: readonly (readonly [string, BaggageEntry])[]): string {
  let header = '';
  let count = 0;
  for (const [key, entry] of entries) {
    let member = `${encodeURIComponent(key)}=${encodeURIComponent(entry.value)}`;
    if (entry.metadata !== undefined) member += `;${entry.metadata.toString()}`;
    if (member.length > BAGGAGE_MAX_PAIR_LENGTH) continue;
    const next = header === '' ? member : `${header},${member}`;
    if (next.length > BAGGAGE_MAX_LENGTH || ++count > BAGGAGE_MAX_PAIRS) break;
    header = next;
  }
  return header;
}

/** W3C Baggage (`baggage` header) with only @opentelemetry/api. */
export class BaggagePropagator implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const baggage = propagation.getBaggage(context);
    if (baggage === undefined) return;
    const header = serializeBaggage(baggage.getAllEntries());
    if (header !== '') setter.set(carrier, BAGGAGE, header);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const raw = getter.get(carrier, BAGGAGE);
    if (raw === undefined || raw.length === 0) return context;
    const header = Array.isArray(raw) ? raw.join(',') : raw;
    if (header.length > BAGGAGE_MAX_LENGTH) return context;
    const entries = parseBaggage(header);
    if (Object.keys(entries).length === 0) return context;
    return propagation.setBaggage(context, propagation.createBaggage(entries));
  }

  fields(): string[] {
    return [BAGGAGE];
  }
}
