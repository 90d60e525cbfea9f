import type { Row, TableMetadata } from './types.js';

/**
 * The plain shape of Web API rows that the connector's row operations answer and the enrichment of truncated contexts
 * publishes (README "Dataverse rows in the connector"): lookups `{ id, table, name }`, choices `{ value, label }`,
 * everything else the Web API's own JSON value.
 */

/** The annotation holding a value's formatted form (choice label, lookup name, money with currency…). */
export const FORMATTED = '@OData.Community.Display.V1.FormattedValue';
/** The annotation naming the table a lookup points to. */
export const LOOKUP_TABLE = '@Microsoft.Dynamics.CRM.lookuplogicalname';
/** `AttributeType`s read as `{ id, table, name }`. */
export const LOOKUP_TYPES: ReadonlySet<string> = new Set(['Lookup', 'Customer', 'Owner']);
/** `AttributeType`s read as `{ value, label }`. */
export const CHOICE_TYPES: ReadonlySet<string> = new Set(['Picklist', 'State', 'Status']);

/**
 * The plain shape of a Web API row: lookups `{id, table, name}`, choices `{value, label}`, `id` and `etag` first.
 * Annotations are folded into the values they describe, the others dropped.
 *
 * @example
 * plainRow({ accountid: 'a1…', _parentaccountid_value: 'b2…', industrycode: 1, … }, accountMetadata);
 * // { id: 'a1…', parentaccountid: { id: 'b2…', table: 'account', name: 'Contoso' },
 * //   industrycode: { value: 1, label: 'Accounting' } }
 */
export function plainRow(row: Row, metadata: TableMetadata): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: row[metadata.primaryIdAttribute] ?? null,
    ...(row['@odata.etag'] ? { etag: row['@odata.etag'] } : {}),
  };
  const columns = new Map(metadata.columns.map((c) => [c.logicalName, c]));
  for (const [name, value] of Object.entries(row)) {
    // The primary id is `id`; annotations are folded into the values they describe.
    if (name.includes('@') || name === metadata.primaryIdAttribute) continue;
    const lookup = /^_(.+)_value$/.exec(name)?.[1];
    if (lookup !== undefined && LOOKUP_TYPES.has(columns.get(lookup)?.type ?? '')) {
      out[lookup] =
        value === null || value === undefined
          ? null
          : {
              id: value,
              table: row[`${name}${LOOKUP_TABLE}`] ?? columns.get(lookup)?.targets?.[0] ?? null,
              name: row[`${name}${FORMATTED}`] ?? null,
            };
      continue;
    }
    const column = columns.get(name);
    if (column && CHOICE_TYPES.has(column.type)) {
      out[name] = value === null || value === undefined ? null : { value, label: row[`${name}${FORMATTED}`] ?? null };
      continue;
    }
    out[name] = value;
  }
  return out;
}
