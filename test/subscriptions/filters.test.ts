import { describe, expect, it } from 'vitest';
import { readContext } from '../../shared/dataverse/index.js';
import type { NormalizedContext } from '../../shared/dataverse/types.js';
import { matches, parseList } from '../../shared/subscriptions/filters.js';
import type { SubscriptionFilters } from '../../shared/subscriptions/types.js';
import { entity, kv, ROW_ID, rawContext, typed } from '../helpers/contexts.js';
import { contextBytes } from '../helpers/fixtures.js';

/** The real webhook sample: an Update of a contact that set firstname (and the system columns). */
const contactUpdate = readContext(contextBytes('msdocs-usewebhooks-update-contact.json'));
/** The real sample Create of albxrm_alltypes. */
const allTypesCreate = readContext(contextBytes('albxrm-create-albxrm_alltypes.json'));

/** A context for `message` on `table` whose Target sets `attributes`. */
function context(message: string, table: string, attributes: Record<string, unknown>): NormalizedContext {
  return readContext(
    JSON.stringify(
      rawContext({
        MessageName: message,
        PrimaryEntityName: table,
        InputParameters: kv({ Target: typed('Entity', entity(table, ROW_ID, attributes)) }),
      }),
    ),
  );
}

const any: SubscriptionFilters = { tables: [], messages: [], columns: [] };

describe('matches', () => {
  it('selects everything when every list is empty', () => {
    expect(matches(any, contactUpdate)).toBe(true);
    expect(matches(any, allTypesCreate)).toBe(true);
  });

  it('with onlyWhenValuesChange, selects an Update only when a listed column really changed or may have', () => {
    const update = context('Update', 'account', { name: 'A', telephone1: '1' });
    const withSection = (section: Record<string, unknown>) => ({ ...update, $bridge: section }) as NormalizedContext;
    const strict: SubscriptionFilters = { ...any, columns: ['telephone1'], onlyWhenValuesChange: true };
    // Sent with the value it had: no.
    const unchanged = withSection({ valueChangedAttributes: [], unknownPreviousAttributes: [] });
    expect(matches(strict, unchanged)).toBe(false);
    // The same event still matches a subscription without the option (sent is enough), as before.
    expect(matches({ ...strict, onlyWhenValuesChange: false }, unchanged)).toBe(true);
    expect(matches({ tables: [], messages: [], columns: ['telephone1'] }, unchanged)).toBe(true);
    // Changed, or unknown (counts as changed): yes; names ignore case.
    expect(
      matches(strict, withSection({ valueChangedAttributes: ['telephone1'], unknownPreviousAttributes: [] })),
    ).toBe(true);
    expect(
      matches(strict, withSection({ valueChangedAttributes: [], unknownPreviousAttributes: ['TELEPHONE1'] })),
    ).toBe(true);
    // Another column changed: no.
    expect(matches(strict, withSection({ valueChangedAttributes: ['name'], unknownPreviousAttributes: [] }))).toBe(
      false,
    );
    // An event the bridge did not enrich knows no previous value: every sent column may have changed.
    expect(matches(strict, update)).toBe(true);
    expect(matches({ ...strict, columns: ['fax'] }, update)).toBe(false);
    // Other messages are not filtered by columns.
    expect(matches(strict, context('Create', 'account', { name: 'A' }))).toBe(true);
  });

  it('filters by table, ignoring case', () => {
    expect(matches({ ...any, tables: ['contact'] }, contactUpdate)).toBe(true);
    expect(matches({ ...any, tables: ['CONTACT'] }, contactUpdate)).toBe(true);
    expect(matches({ ...any, tables: ['account', 'contact'] }, contactUpdate)).toBe(true);
    expect(matches({ ...any, tables: ['account'] }, contactUpdate)).toBe(false);
  });

  it('filters by message, ignoring case', () => {
    expect(matches({ ...any, messages: ['update'] }, contactUpdate)).toBe(true);
    expect(matches({ ...any, messages: ['Create', 'Delete'] }, contactUpdate)).toBe(false);
    expect(matches({ ...any, messages: ['Create'] }, allTypesCreate)).toBe(true);
  });

  it('needs every non-empty list to match', () => {
    expect(matches({ tables: ['contact'], messages: ['Create'], columns: [] }, contactUpdate)).toBe(false);
    expect(matches({ tables: ['account'], messages: ['Update'], columns: [] }, contactUpdate)).toBe(false);
    expect(matches({ tables: ['contact'], messages: ['Update'], columns: ['firstname'] }, contactUpdate)).toBe(true);
  });

  it('filters an Update by its changed columns, ignoring case', () => {
    expect(contactUpdate.changedAttributes).toContain('firstname');
    expect(matches({ ...any, columns: ['FirstName'] }, contactUpdate)).toBe(true);
    expect(matches({ ...any, columns: ['telephone1', 'firstname'] }, contactUpdate)).toBe(true);
    expect(matches({ ...any, columns: ['telephone1'] }, contactUpdate)).toBe(false);
  });

  it('does not filter other messages by columns', () => {
    expect(matches({ ...any, columns: ['telephone1'] }, allTypesCreate)).toBe(true);
    expect(matches({ ...any, columns: ['telephone1'] }, context('Create', 'account', { name: 'Contoso' }))).toBe(true);
    expect(matches({ ...any, columns: ['telephone1'] }, context('new_MyApi', 'account', {}))).toBe(true);
  });

  it('matches an Update that set a listed column on a hand-made context', () => {
    const update = context('Update', 'account', { name: 'Contoso', telephone1: '555' });
    expect(matches({ tables: ['account'], messages: ['Update'], columns: ['telephone1'] }, update)).toBe(true);
    expect(matches({ tables: ['account'], messages: ['Update'], columns: ['revenue'] }, update)).toBe(false);
  });
});

describe('parseList', () => {
  it.each([
    ['Create, Update,,', ['Create', 'Update']],
    ['  name ', ['name']],
    ['', []],
    [' , ,', []],
    ['Update,update,UPDATE,Create', ['Update', 'Create']],
  ])('%j → %j', (text, expected) => {
    expect(parseList(text)).toEqual(expected);
  });

  it('treats undefined as the empty list', () => {
    expect(parseList(undefined)).toEqual([]);
  });
});
