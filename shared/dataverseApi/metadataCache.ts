/**
 * Table definitions, cached per client instance for a time-to-live: they change only when someone customizes the
 * environment, and every row operation needs the entity set name. Concurrent first lookups of a table share one load
 * (one set of requests in flight per table); a failed load is not kept.
 */
export class MetadataCache<T> {
  private readonly entries = new Map<string, { value: Promise<T>; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached value for `key`, or the result of `load` (shared with concurrent callers). */
  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && hit.expires > this.now()) return hit.value;
    const value = load();
    this.entries.set(key, { value, expires: this.now() + this.ttlMs });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }

  /** Forgets one table (or all), e.g. after a 404 that suggests the definition changed. */
  forget(key?: string): void {
    if (key === undefined) this.entries.clear();
    else this.entries.delete(key);
  }
}
