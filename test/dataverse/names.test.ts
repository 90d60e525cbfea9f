import { describe, expect, it } from 'vitest';
import { GUID, isGuid } from '../../shared/dataverse/names.js';

describe('isGuid', () => {
  it('takes GUIDs in either case', () => {
    expect(isGuid('6d81597f-0f9f-e711-8122-000d3aa2331c')).toBe(true);
    expect(isGuid('6D81597F-0F9F-E711-8122-000D3AA2331C')).toBe(true);
    expect(isGuid('00000000-0000-0000-0000-000000000000')).toBe(true);
  });

  it.each([
    ['braces', '{6d81597f-0f9f-e711-8122-000d3aa2331c}'],
    ['no dashes', '6d81597f0f9fe7118122000d3aa2331c'],
    ['a dash moved', '6d81597f0-f9f-e711-8122-000d3aa2331c'],
    ['a dash where a digit goes, same length', '6d81597f-0f9f-e711-8122--00d3aa2331c'],
    ['a letter past f', '6d81597f-0f9f-e711-8122-000d3aa2331g'],
    ['a character past ASCII', '6d81597f-0f9f-e711-8122-000d3aa2331é'],
    ['a character whose low byte is a digit', '6d81597f-0f9f-e711-8122-000d3aa2331\u0130'],
    ['one character short', '6d81597f-0f9f-e711-8122-000d3aa2331'],
    ['a trailing newline', '6d81597f-0f9f-e711-8122-000d3aa2331c\n'],
    ['empty', ''],
  ])('refuses %s', (_, value) => {
    expect(isGuid(value)).toBe(false);
  });

  it('agrees with the GUID pattern the connector schemas use', () => {
    const alphabet = '0123456789abcdefABCDEFgG-{}é\n';
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let n = 0; n < 5_000; n++) {
      const chars = [...'6d81597f-0f9f-e711-8122-000d3aa2331c'];
      for (let k = next() % 3; k > 0; k--) chars[next() % chars.length] = alphabet[next() % alphabet.length] as string;
      const value = chars.join('');
      expect(isGuid(value), value).toBe(GUID.test(value));
    }
  });
});
