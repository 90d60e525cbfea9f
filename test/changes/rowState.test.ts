import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyEvent, mergeStates, type RowEvent, type RowState, toSnapshot } from '../../shared/changes/rowState.js';
import type { RowSnapshot } from '../../shared/changes/types.js';

const ID = '6d81597f-0f9f-e711-8122-000d3aa2331c';

function write(
  time: string,
  eventId: string,
  attributes: Record<string, unknown>,
  formattedValues: Record<string, unknown> = {},
  message = 'Update',
): RowEvent {
  return { time, eventId, message, delete: false, attributes, formattedValues };
}

function remove(time: string, eventId: string): RowEvent {
  return { time, eventId, message: 'Delete', delete: true, attributes: {}, formattedValues: {} };
}

function applyAll(events: readonly RowEvent[], state?: RowState): RowState {
  let current = state;
  for (const event of events) current = applyEvent(current, event);
  if (current === undefined) throw new Error('no events');
  return current;
}

const T1 = '2024-05-01T10:00:00.000Z';
const T2 = '2024-05-01T10:05:00.000Z';
const T3 = '2024-05-01T10:10:00.000Z';
const T4 = '2024-05-01T10:15:00.000Z';

describe('applyEvent and toSnapshot: a row through its life', () => {
  const create = write(T1, 'e1', { name: 'Contoso', telephone1: '555-0100' }, {}, 'Create');
  const update = write(T2, 'e2', { name: 'Contoso Ltd' });
  const deletion = remove(T3, 'e3');
  const recreate = write(T4, 'e4', { name: 'Fabrikam' }, {}, 'Create');

  it('Create then Update: newer columns win, untouched ones stay', () => {
    expect(toSnapshot('account', ID, applyAll([create, update]))).toEqual({
      table: 'account',
      id: ID,
      deleted: false,
      attributes: { name: 'Contoso Ltd', telephone1: '555-0100' },
      formattedValues: {},
      updatedAt: T2,
      lastEventId: 'e2',
      lastMessage: 'Update',
    });
  });

  it('Delete leaves a tombstone: no columns, the Delete as the newest event', () => {
    expect(toSnapshot('account', ID, applyAll([create, update, deletion]))).toEqual({
      table: 'account',
      id: ID,
      deleted: true,
      attributes: {},
      formattedValues: {},
      updatedAt: T3,
      lastEventId: 'e3',
      lastMessage: 'Delete',
    });
  });

  it('a re-Create after the Delete shows only what was written after it', () => {
    expect(toSnapshot('account', ID, applyAll([create, update, deletion, recreate]))).toEqual({
      table: 'account',
      id: ID,
      deleted: false,
      attributes: { name: 'Fabrikam' },
      formattedValues: {},
      updatedAt: T4,
      lastEventId: 'e4',
      lastMessage: 'Create',
    });
  });

  it('stores the canonical compact form: referenced versions only, oldest first, cells by index', () => {
    expect(applyAll([create, update, deletion, recreate])).toEqual({
      versions: [
        [T3, 'e3', 'Delete'],
        [T4, 'e4', 'Create'],
      ],
      attributes: { name: ['Fabrikam', 1] },
      formattedValues: {},
      lastWrite: 1,
      deletedAt: 0,
    });
    expect(applyAll([create, update, deletion])).toEqual({
      versions: [[T3, 'e3', 'Delete']],
      attributes: {},
      formattedValues: {},
      deletedAt: 0,
    });
    expect(applyAll([create, update])).toEqual({
      versions: [
        [T1, 'e1', 'Create'],
        [T2, 'e2', 'Update'],
      ],
      attributes: { name: ['Contoso Ltd', 1], telephone1: ['555-0100', 0] },
      formattedValues: {},
      lastWrite: 1,
    });
  });

  it('an Update older than the Delete, arriving late, changes nothing', () => {
    const late = write('2024-05-01T10:07:00.000Z', 'late', { telephone1: '555-0199' });
    const before = applyAll([create, update, deletion]);
    expect(applyEvent(before, late)).toEqual(before);
  });

  it('the Delete arriving first still wins over older writes that come after it', () => {
    const state = applyAll([deletion, update, create]);
    expect(toSnapshot('account', ID, state)).toMatchObject({ deleted: true, attributes: {}, lastEventId: 'e3' });
  });

  it('applying an event twice is the same as once', () => {
    const once = applyAll([create, update]);
    expect(applyEvent(once, update)).toEqual(once);
    expect(applyEvent(once, create)).toEqual(once);
  });
});

describe('applyEvent: ties at the same instant', () => {
  it('the greater event id wins a column, whatever the order', () => {
    const a = write(T1, 'aaaa', { name: 'from a' });
    const b = write(T1, 'bbbb', { name: 'from b' });
    const expected = { name: 'from b' };
    expect(toSnapshot('account', ID, applyAll([a, b])).attributes).toEqual(expected);
    expect(toSnapshot('account', ID, applyAll([b, a])).attributes).toEqual(expected);
    expect(toSnapshot('account', ID, applyAll([b, a])).lastEventId).toBe('bbbb');
  });

  it('a Delete and a write at the same instant: the greater event id decides', () => {
    const writeFirst = write(T1, 'b-write', { name: 'x' });
    const deleteAfter = remove(T1, 'c-delete');
    const deleteBefore = remove(T1, 'a-delete');
    expect(toSnapshot('account', ID, applyAll([deleteAfter, writeFirst])).deleted).toBe(true);
    expect(toSnapshot('account', ID, applyAll([writeFirst, deleteAfter])).deleted).toBe(true);
    expect(toSnapshot('account', ID, applyAll([writeFirst, deleteBefore]))).toMatchObject({
      deleted: false,
      attributes: { name: 'x' },
      lastEventId: 'b-write',
    });
  });

  it('compares instants, not text: the same instant written with an offset ties by event id', () => {
    const utc = write('2024-05-01T10:00:00.000Z', 'b', { name: 'utc' });
    const offset = write('2024-05-01T12:00:00.000+02:00', 'a', { name: 'offset' });
    expect(toSnapshot('account', ID, applyAll([utc, offset])).attributes).toEqual({ name: 'utc' });
    expect(toSnapshot('account', ID, applyAll([offset, utc])).attributes).toEqual({ name: 'utc' });
  });
});

describe('applyEvent: formatted values', () => {
  it('keeps the label that belongs to the current value', () => {
    const created = write(T1, 'e1', { statuscode: 1 }, { statuscode: 'Active' }, 'Create');
    const changed = write(T2, 'e2', { statuscode: 2 }); // Target of an Update often has no formatted values
    const labelled = write(T3, 'e3', { statuscode: 2 }, { statuscode: 'Inactive' });
    expect(toSnapshot('account', ID, applyAll([created]))).toMatchObject({
      attributes: { statuscode: 1 },
      formattedValues: { statuscode: 'Active' },
    });
    // 'Active' described value 1; the row now holds 2, whose label we have not seen yet.
    expect(toSnapshot('account', ID, applyAll([created, changed]))).toMatchObject({
      attributes: { statuscode: 2 },
      formattedValues: {},
    });
    expect(toSnapshot('account', ID, applyAll([changed, labelled, created]))).toMatchObject({
      attributes: { statuscode: 2 },
      formattedValues: { statuscode: 'Inactive' },
    });
  });

  it('keeps a label newer than its value, and one for a column no event wrote', () => {
    const value = write(T1, 'e1', { ownerid: { id: 'u1' } });
    const label = write(T2, 'e2', {}, { ownerid: 'Ana', modifiedon: '5/1/2024 10:05 AM' });
    expect(toSnapshot('account', ID, applyAll([label, value])).formattedValues).toEqual({
      ownerid: 'Ana',
      modifiedon: '5/1/2024 10:05 AM',
    });
  });

  it('a Delete clears formatted values too', () => {
    const created = write(T1, 'e1', { statuscode: 1 }, { statuscode: 'Active' }, 'Create');
    const state = applyAll([created, remove(T2, 'e2')]);
    expect(state.formattedValues).toEqual({});
    expect(toSnapshot('account', ID, state).formattedValues).toEqual({});
  });
});

describe('applyEvent: storage size', () => {
  it('a row of 200 columns from one event stores its event id once', () => {
    const attributes = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`col${i}`, i]));
    const eventId = 'f4d1a8a2-1b1d-8c2e-9f00-abcdefabcdef';
    const json = JSON.stringify(applyEvent(undefined, write(T1, eventId, attributes, {}, 'Create')));
    expect(json.split(eventId).length - 1).toBe(1);
    expect(json.split(T1).length - 1).toBe(1);
  });

  it('a column named __proto__ is a column like any other', () => {
    const attributes = JSON.parse('{"__proto__": "x", "name": "y"}') as Record<string, unknown>;
    const state = applyEvent(undefined, write(T1, 'e1', attributes));
    const snapshot = toSnapshot('account', ID, JSON.parse(JSON.stringify(state)) as RowState);
    expect(Object.keys(snapshot.attributes).sort()).toEqual(['__proto__', 'name']);
  });
});

// Property tests: a generated history of one row, applied in any order with any repeats, always gives the in-order
// result, which must also match a plain re-statement of the rules (the model below).

const TIMES = ['2024-05-01T10:00:00.000Z', '2024-05-01T10:00:01.000Z', '2024-05-01T10:00:02.000Z'];
const COLUMNS = ['name', 'statuscode', 'ownerid', 'revenue'];

const eventsArbitrary = fc
  .uniqueArray(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 12 })
  .map((numbers) => numbers.map((n) => n.toString(16).padStart(4, '0')))
  .chain((ids) =>
    fc.tuple(
      ...ids.map((eventId) =>
        fc.record({
          time: fc.constantFrom(...TIMES),
          eventId: fc.constant(eventId),
          message: fc.constantFrom('Create', 'Update', 'Assign'),
          delete: fc.integer({ min: 0, max: 3 }).map((n) => n === 0), // one event in four is a Delete
          attributes: fc.dictionary(fc.constantFrom(...COLUMNS), fc.oneof(fc.integer({ max: 9 }), fc.constant(null))),
          formattedValues: fc.dictionary(fc.constantFrom(...COLUMNS), fc.string({ maxLength: 3 })),
        }),
      ),
    ),
  )
  .map((events) =>
    events.map(
      (event): RowEvent =>
        event.delete ? { ...event, message: 'Delete', attributes: {}, formattedValues: {} } : (event as RowEvent),
    ),
  );

/** Events in the order they happened: by time, then event id (unique here). */
function inOrder(events: readonly RowEvent[]): RowEvent[] {
  return [...events].sort((a, b) => byText(a.time, b.time) || byText(a.eventId, b.eventId));
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedKeys(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => byText(a, b)));
}

/** The snapshot by the rules, replayed in order: a Delete clears the row, a write sets columns and their labels. */
function model(events: readonly RowEvent[]): RowSnapshot {
  const ordered = inOrder(events);
  let attributes: Record<string, unknown> = {};
  let formattedValues: Record<string, unknown> = {};
  let deleted = false;
  for (const event of ordered) {
    if (event.delete) {
      attributes = {};
      formattedValues = {};
      deleted = true;
      continue;
    }
    deleted = false;
    for (const [column, value] of Object.entries(event.attributes)) {
      attributes[column] = value;
      if (!(column in event.formattedValues)) delete formattedValues[column];
    }
    for (const [column, value] of Object.entries(event.formattedValues)) formattedValues[column] = value;
  }
  const last = ordered.at(-1) as RowEvent;
  return {
    table: 'account',
    id: ID,
    deleted,
    attributes: sortedKeys(attributes),
    formattedValues: sortedKeys(formattedValues),
    updatedAt: last.time,
    lastEventId: last.eventId,
    lastMessage: last.message,
  };
}

/** A random order of `events` with some of them repeated, from fast-check's seeded choices. */
const scrambled = (events: readonly RowEvent[]) =>
  fc
    .tuple(
      fc.shuffledSubarray([...events], { minLength: 0, maxLength: events.length }),
      fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: events.length * 2, maxLength: events.length * 2 }),
    )
    .map(([repeats, keys]) => {
      const all = [...events, ...repeats];
      return all
        .map((event, i) => ({ event, key: keys[i % keys.length] ?? 0 }))
        .sort((a, b) => a.key - b.key)
        .map(({ event }) => event);
    });

describe('applyEvent: order-insensitive and idempotent (property)', () => {
  it('any permutation with duplicates gives the in-order snapshot and the same stored form', () => {
    fc.assert(
      fc.property(
        eventsArbitrary.chain((events) => fc.tuple(fc.constant(events), scrambled(events))),
        ([events, delivered]) => {
          const expected = applyAll(inOrder(events));
          const actual = applyAll(delivered);
          expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
          expect(toSnapshot('account', ID, actual)).toEqual(toSnapshot('account', ID, expected));
        },
      ),
      { seed: 20240501, numRuns: 500 },
    );
  });

  it('the in-order snapshot is the one the rules give', () => {
    fc.assert(
      fc.property(eventsArbitrary, (events) => {
        const snapshot = toSnapshot('account', ID, applyAll(inOrder(events)));
        expect({
          ...snapshot,
          attributes: sortedKeys(snapshot.attributes),
          formattedValues: sortedKeys(snapshot.formattedValues),
        }).toEqual(model(events));
      }),
      { seed: 7, numRuns: 500 },
    );
  });

  it('merging the states of any split of the events gives the state of all of them', () => {
    fc.assert(
      fc.property(
        eventsArbitrary.chain((events) => fc.tuple(fc.constant(events), fc.nat(events.length))),
        ([events, cut]) => {
          const left = events.slice(0, Math.max(cut, 1));
          const right = events.slice(Math.max(cut, 1) - 1); // overlaps by one event: merging is idempotent
          const merged = mergeStates(applyAll(right), applyAll(left));
          expect(JSON.stringify(merged)).toBe(JSON.stringify(applyAll(events)));
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });
});
