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
  private values: Map<symbol, unknown> | undefined;

  get<T>(key: ContextKey<T>): T {
    const values = this.values;
    if (values === undefined || !values.has(key.id)) return key.defaultValue;
    return values.get(key.id) as T;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    (this.values ??= new Map()).set(key.id, value);
    return this;
  }

  has(key: ContextKey<unknown>): boolean {
    return this.values?.has(key.id) ?? false;
  }

  delete(key: ContextKey<unknown>): this {
    this.values?.delete(key.id);
    return this;
  }
}
