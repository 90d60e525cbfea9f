import { getStorage } from '../pipeline/runtime.js';
import { TableChangeStore } from '../store/tableChangeStore.js';
import type { ChangeStore } from './projectChanges.js';

let store: Promise<ChangeStore> | undefined;

/**
 * The process-wide change store: the change log, row snapshots and table list in the app's storage (see
 * `getStorage`), shared by `projectChanges` and the connector's change functions. Tables are created on first use.
 *
 * @example
 * const reader = await getChangeStore();
 * await reader.getRow('account', id);
 */
export function getChangeStore(): Promise<ChangeStore> {
  store ??= getStorage().then(
    (storage) =>
      new TableChangeStore({
        changes: storage.table(storage.names.changes),
        rows: storage.table(storage.names.rows),
        tables: storage.table(storage.names.tables),
      }),
    (error: unknown) => {
      store = undefined; // let the next invocation try again
      throw error;
    },
  );
  return store;
}

/** Replaces the process-wide change store (tests wire one against Azurite); `undefined` restores the default. */
export function setChangeStore(value: ChangeStore | undefined): void {
  store = value === undefined ? undefined : Promise.resolve(value);
}
