import { lazy } from '../lazy.js';
import { getStorage } from '../runtime.js';
import type { ChangeStore } from './projectChanges.js';

const store = lazy<ChangeStore>(async () => {
  // The store module loads here, on first use, not when the function files load.
  const [storage, { TableChangeStore }] = await Promise.all([getStorage(), import('../store/tableChangeStore.js')]);
  return new TableChangeStore({
    changes: storage.table(storage.names.changes),
    rows: storage.table(storage.names.rows),
    tables: storage.table(storage.names.tables),
  });
});

/**
 * The process-wide change store: the change log, row snapshots and table list in the app's storage (see
 * `getStorage`), shared by `projectChanges` and the connector's change functions. Tables are created on first use.
 *
 * @example
 * const reader = await getChangeStore();
 * await reader.getRow('account', id);
 */
export function getChangeStore(): Promise<ChangeStore> {
  return store.get();
}

/** Replaces the process-wide change store (tests wire one against Azurite); `undefined` restores the default. */
export function setChangeStore(value: ChangeStore | undefined): void {
  store.set(value);
}
