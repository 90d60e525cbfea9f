import { describe, expect, it } from 'vitest';
import { needsSnapshot, sameValue, valueChanges } from '../../shared/changes/previousValues.js';
import { applyEvent, type RowState, type Version } from '../../shared/changes/rowState.js';

const ACCOUNT = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const OTHER = '8c7f1a52-3b1e-4d3e-9a51-2f1b6c0d9e11';

/** A snapshot written by one event at `time` with `attributes`. */
function snapshot(time: string, attributes: Record<string, unknown>, eventId = 'e-old'): RowState {
  return applyEvent(undefined, { time, eventId, message: 'Update', delete: false, attributes, formattedValues: {} });
}

const at = (time: string, eventId = 'e-this'): Version => [time, eventId, 'Update'];

describe('sameValue', () => {
  it('compares lookups by id and table, whatever their form, ignoring the display name', () => {
    const reference = { logicalName: 'account', id: ACCOUNT.toUpperCase(), name: 'Contoso' };
    expect(sameValue(reference, { logicalName: 'account', id: ACCOUNT, name: 'Renamed' })).toBe(true);
    expect(sameValue(reference, { table: 'account', id: ACCOUNT, name: null })).toBe(true);
    expect(sameValue(reference, ACCOUNT)).toBe(true);
    expect(sameValue(reference, { logicalName: 'contact', id: ACCOUNT, name: 'Contoso' })).toBe(false);
    expect(sameValue(reference, { logicalName: 'account', id: OTHER, name: 'Contoso' })).toBe(false);
    expect(sameValue(reference, null)).toBe(false);
  });

  it('compares numbers numerically, dates as instants, multi-select choices as sets', () => {
    expect(sameValue(10, 10.0)).toBe(true);
    expect(sameValue(10, '10.00')).toBe(true);
    expect(sameValue(10.5, 10.25)).toBe(false);
    expect(sameValue(0, null)).toBe(false);
    expect(sameValue(1, 'one')).toBe(false);
    expect(sameValue('2024-05-01T10:00:00Z', '2024-05-01T10:00:00.000Z')).toBe(true);
    expect(sameValue('2024-05-01T12:00:00+02:00', '2024-05-01T10:00:00.000Z')).toBe(true);
    expect(sameValue('2024-05-01T10:00:01Z', '2024-05-01T10:00:00.000Z')).toBe(false);
    expect(sameValue([3, 1, 2], [1, 2, 3])).toBe(true);
    expect(sameValue([1, 2], [1, 2, 3])).toBe(false);
  });

  it('compares text exactly, and missing as null', () => {
    expect(sameValue('Contoso', 'Contoso')).toBe(true);
    expect(sameValue('Contoso', 'contoso')).toBe(false);
    expect(sameValue(undefined, null)).toBe(true);
    expect(sameValue(true, false)).toBe(false);
    expect(sameValue({ a: [1, { b: 'x' }] }, { a: [1, { b: 'x' }] })).toBe(true);
    expect(sameValue({ a: 1 }, { a: 1, b: 2 })).toBe(false);
  });
});

describe('valueChanges', () => {
  const sent = { name: 'Contoso', telephone1: '555-0101', revenue: 100 };
  const columns = ['name', 'telephone1', 'revenue'];

  it('takes previous values from the pre-image first, then from an older snapshot', () => {
    const state = snapshot('2024-05-01T10:00:00.000Z', { telephone1: '555-0100', revenue: 50, name: 'Stale' });
    const result = valueChanges({
      columns,
      sent,
      preImages: [{ name: 'Contoso' }],
      snapshot: { state, event: at('2024-05-01T11:00:00.000Z') },
    });
    expect(result).toEqual({
      previousValues: { name: 'Contoso', telephone1: '555-0100', revenue: 50 },
      previousValueSources: { name: 'preImage', telephone1: 'snapshot', revenue: 'snapshot' },
      valueChangedAttributes: ['telephone1', 'revenue'],
      unknownPreviousAttributes: [],
    });
  });

  it('knows nothing of an unseen row, or of columns written by a newer event (out of order)', () => {
    expect(valueChanges({ columns, sent, preImages: [] })).toEqual({
      previousValues: {},
      previousValueSources: {},
      valueChangedAttributes: [],
      unknownPreviousAttributes: columns,
    });
    // The snapshot's telephone1 was written at 12:00, after this 11:00 event: its previous value is unknown; name, at
    // 10:00, is known; revenue was never seen.
    const state = applyEvent(snapshot('2024-05-01T10:00:00.000Z', { name: 'Contoso' }), {
      time: '2024-05-01T12:00:00.000Z',
      eventId: 'e-new',
      message: 'Update',
      delete: false,
      attributes: { telephone1: '555-0199' },
      formattedValues: {},
    });
    const result = valueChanges({
      columns,
      sent,
      preImages: [],
      snapshot: { state, event: at('2024-05-01T11:00:00.000Z') },
    });
    expect(result.previousValues).toEqual({ name: 'Contoso' });
    expect(result.valueChangedAttributes).toEqual([]);
    expect(result.unknownPreviousAttributes).toEqual(['telephone1', 'revenue']);
  });

  it('does not take a value this very event wrote (a redelivery after projection) as the previous one', () => {
    const state = snapshot('2024-05-01T11:00:00.000Z', { telephone1: '555-0101' }, 'e-this');
    const result = valueChanges({
      columns: ['telephone1'],
      sent,
      preImages: [],
      snapshot: { state, event: at('2024-05-01T11:00:00.000Z') },
    });
    expect(result.unknownPreviousAttributes).toEqual(['telephone1']);
  });

  it('a column missing from every pre-image is not read as empty', () => {
    expect(needsSnapshot(['name', 'fax'], [{ name: 'A' }])).toBe(true);
    expect(needsSnapshot(['name'], [{ name: 'A' }, {}])).toBe(false);
    const result = valueChanges({ columns: ['fax'], sent: { fax: null }, preImages: [{ name: 'A' }] });
    expect(result.unknownPreviousAttributes).toEqual(['fax']);
  });

  it('keeps a column named __proto__ as a column', () => {
    const hostile = JSON.parse('{"__proto__": "x"}') as Record<string, unknown>;
    const result = valueChanges({ columns: ['__proto__'], sent: { x: 1 }, preImages: [hostile] });
    expect(Object.hasOwn(result.previousValues, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(result.previousValues)).toBe(Object.prototype);
  });
});
