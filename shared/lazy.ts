/** A value built on first use and then shared; see {@link lazy}. */
export interface Lazy<T> {
  /** The value, building it on the first call (concurrent first calls share one build). */
  get(): Promise<T>;
  /** Replaces the value (tests wire their own), or with `undefined` forgets it so the next `get` builds again. */
  set(value: T | undefined): void;
}

/**
 * Memoizes an async build for the life of the process. A build that fails is not kept, so the next call tries again
 * (storage may have been briefly unreachable at the first invocation).
 *
 * @example
 * const store = lazy(async () => new TableChangeStore(await tables()));
 * await store.get(); // built once, then shared
 */
export function lazy<T>(build: () => Promise<T>): Lazy<T> {
  let pending: Promise<T> | undefined;
  return {
    get() {
      pending ??= build().catch((error: unknown) => {
        pending = undefined;
        throw error;
      });
      return pending;
    },
    set(value) {
      pending = value === undefined ? undefined : Promise.resolve(value);
    },
  };
}
