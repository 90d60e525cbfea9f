import { describe, expect, it } from 'vitest';
import { isoFromEpochMs } from '../../shared/dataverse/isoDate.js';

describe('isoFromEpochMs', () => {
  it('writes instants the way Dataverse dates read', () => {
    expect(isoFromEpochMs(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(isoFromEpochMs(1506409448000)).toBe('2017-09-26T07:04:08.000Z');
    expect(isoFromEpochMs(1527757530151)).toBe('2018-05-31T09:05:30.151Z');
    expect(isoFromEpochMs(951782400000)).toBe('2000-02-29T00:00:00.000Z'); // a leap day of a century leap year
    expect(isoFromEpochMs(4107542399999)).toBe('2100-02-28T23:59:59.999Z'); // 2100 is not a leap year
    expect(isoFromEpochMs(253402300799999)).toBe('9999-12-31T23:59:59.999Z');
  });

  it('leaves instants outside 1970–9999 to Date, and refuses what no Date can hold', () => {
    expect(isoFromEpochMs(-62135596800000)).toBe('0001-01-01T00:00:00.000Z');
    expect(isoFromEpochMs(253402300800000)).toBe('+010000-01-01T00:00:00.000Z');
    expect(isoFromEpochMs(-1)).toBe('1969-12-31T23:59:59.999Z');
    expect(isoFromEpochMs(8.64e15)).toBe('+275760-09-13T00:00:00.000Z');
    expect(isoFromEpochMs(8.64e15 + 1)).toBeUndefined();
    expect(isoFromEpochMs(Number.NaN)).toBeUndefined();
  });

  it('agrees with Date.prototype.toISOString across the range it writes itself', () => {
    // Every day boundary and leap rule is crossed many times over: a fixed-step walk plus the last millisecond of
    // each year from 1970 to 9999.
    const instants: number[] = [];
    for (let ms = 0; ms < 253402300800000; ms += 9_876_543_211) instants.push(ms);
    for (let year = 1970; year <= 9999; year++) instants.push(Date.UTC(year + 1, 0, 1) - 1, Date.UTC(year, 2, 1));
    for (const ms of instants) expect(isoFromEpochMs(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
});
