/**
 * Typed per-call context values (connect-es style): plugins share state through keys they own instead
 * of sticking ad-hoc fields on the invocation.
 */
export interface ContextKey<T> {
  readonly id: symbol;
  readonly defaultValue: T;
  readonly description: string;
}

export function createContextKey<T>(defaultValue: T, options: { description?: string } = {}): ContextKey<T> {
  const description = options.description ?? 'context value';
  return { id: Symbol(description), defaultValue, description };
}

export class ContextValues {
  // The first key set lives in two fields, the rest in a Map made when a second key arrives: a call
  // usually carries one value (retry's attempts on the client, auth's principal on the server), and
  // a Map per call was ~200 B of garbage on each side.
  private firstId: symbol | undefined = undefined;
  private firstValue: unknown = undefined;
  private values: Map<symbol, unknown> | undefined = undefined;

  get<T>(key: ContextKey<T>): T {
    if (this.firstId === key.id) return this.firstValue as T;
    const values = this.values;
    if (values === undefined || !values.has(key.id)) return key.defaultValue;
    return values.get(key.id) as T;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    const id = key.id;
    if (this.firstId === id || (this.firstId === undefined && !(this.values?.has(id) ?? false))) {
      this.firstId = id;
      this.firstValue = value;
    } else {
      (this.values ??= new Map()).set(id, value);
    }
    return this;
  }

  has(key: ContextKey<unknown>): boolean {
    return this.firstId === key.id || (this.values?.has(key.id) ?? false);
  }

  delete(key: ContextKey<unknown>): this {
    if (this.firstId === key.id) {
      this.firstId = undefined;
      this.firstValue = undefined;
    } else {
      this.values?.delete(key.id);
    }
    return this;
  }
}
