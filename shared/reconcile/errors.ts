import { PermanentError } from '../errors.js';

/** `BRIDGE_RECONCILE_TABLES` names a table that cannot be reconciled (unknown, or change tracking off). */
export class ReconcileConfigError extends PermanentError {
  override readonly name = 'ReconcileConfigError';
  readonly code = 'ReconcileConfiguration';
}
