const DAY_MS = 86_400_000;
/** 10000-01-01T00:00:00.000Z: from here on `toISOString` writes six-digit years with a sign. */
const YEAR_10000_MS = 253_402_300_800_000;

/** `'00'` … `'99'`. */
const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));

/**
 * `new Date(ms).toISOString()`, or `undefined` where that would throw (outside the range of a Date). Written out for
 * the years 1970 to 9999 because the context reader converts every `/Date(…)/` value of every context, and
 * `toISOString` costs about a microsecond a call, as much as parsing a kilobyte of JSON; other instants (before
 * 1970, six-digit years, invalid) go to `Date`, which writes them exactly as before.
 *
 * @example
 * isoFromEpochMs(1506409448000); // '2017-09-26T07:04:08.000Z'
 * isoFromEpochMs(8.64e15 + 1);   // undefined
 */
export function isoFromEpochMs(ms: number): string | undefined {
  if (!Number.isInteger(ms) || ms < 0 || ms >= YEAR_10000_MS) {
    const date = new Date(ms);
    return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
  }
  const days = Math.floor(ms / DAY_MS);
  const { year, month, day } = civilFromDays(days);
  let rest = ms - days * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  return (
    `${year}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}T${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:` +
    `${TWO_DIGITS[seconds]}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`
  );
}

/**
 * The proleptic Gregorian date `days` after 1970-01-01 (`days` ≥ 0), by Howard Hinnant's `civil_from_days`
 * (https://howardhinnant.github.io/date_algorithms.html#civil_from_days): years counted from March, so the leap
 * day is the last day of its year, in 400-year eras of 146,097 days.
 */
function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468; // days from 0000-03-01
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097; // [0, 146096]
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  ); // [0, 399]
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100)); // [0, 365]
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153); // [0, 11]
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}
