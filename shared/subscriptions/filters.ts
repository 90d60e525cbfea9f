import type { NormalizedContext } from '../dataverse/types.js';
import { valueChangesOf } from '../events/bridgeSection.js';
import type { SubscriptionFilters } from './types.js';

/**
 * Whether a subscription's filters select this context (rules in {@link SubscriptionFilters}): every non-empty list
 * must match, names compare case-insensitively, and `columns` filters only Update, by `changedAttributes`, the way a
 * Dataverse step's filtering attributes do; with `onlyWhenValuesChange`, by the columns whose value really changed or
 * whose previous value is unknown.
 *
 * @example
 * matches({ tables: ['contact'], messages: ['Update'], columns: ['firstname'] }, context);
 * // true for an Update of a contact that set firstname; false if it set only lastname
 */
export function matches(filters: SubscriptionFilters, context: NormalizedContext): boolean {
  if (!anyOrIncludes(filters.tables, [context.primaryEntityName])) return false;
  if (!anyOrIncludes(filters.messages, [context.messageName])) return false;
  if (filters.columns.length === 0 || context.messageName.toLowerCase() !== 'update') return true;
  return anyOrIncludes(filters.columns, filters.onlyWhenValuesChange ? mayHaveChanged(context) : sent(context));
}

function sent(context: NormalizedContext): readonly unknown[] {
  return Array.isArray(context.changedAttributes) ? context.changedAttributes : [];
}

/**
 * The sent columns whose value changed or may have: those the bridge found changed plus those whose previous value is
 * unknown (`$bridge`). An event without that section (not enriched: `DATAVERSE_URL` unset, or published before) knows
 * no previous value, so every sent column may have changed.
 */
function mayHaveChanged(context: NormalizedContext): readonly unknown[] {
  const changes = valueChangesOf(context);
  if (changes === undefined) return sent(context);
  return [...changes.valueChangedAttributes, ...changes.unknownPreviousAttributes];
}

/** True when `wanted` is empty ("any") or shares a name with `present`, ignoring case. */
function anyOrIncludes(wanted: readonly string[], present: readonly unknown[]): boolean {
  if (wanted.length === 0) return true;
  const names = new Set(wanted.map((name) => name.toLowerCase()));
  return present.some((name) => typeof name === 'string' && names.has(name.toLowerCase()));
}

/**
 * A comma-separated list as the connector takes it (`messages`, `columns`): items trimmed, empty ones dropped, and
 * repeats (ignoring case) kept once, first spelling wins. `undefined` and `''` are the empty list ("any").
 *
 * @example
 * parseList('Create, Update,,'); // ['Create', 'Update']
 */
export function parseList(text: string | undefined): string[] {
  const seen = new Set<string>();
  const items: string[] = [];
  for (const part of (text ?? '').split(',')) {
    const item = part.trim();
    if (item === '' || seen.has(item.toLowerCase())) continue;
    seen.add(item.toLowerCase());
    items.push(item);
  }
  return items;
}
