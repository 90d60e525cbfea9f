/**
 * The shapes of Dataverse identifiers, in one place for the reader, the projection and the connector (its request
 * schemas take the `…_PATTERN` strings, the handlers the regular expressions).
 */

/** A row id: a GUID, in either case. */
export const GUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const GUID = new RegExp(GUID_PATTERN);

const HEX_DIGIT = new Uint8Array(128);
for (const digit of '0123456789abcdefABCDEF') HEX_DIGIT[digit.charCodeAt(0)] = 1;

/**
 * `GUID.test(value)`, written out: the context reader checks every id of every context, and a table lookup per
 * character costs less than a regular expression call.
 *
 * @example
 * isGuid('6D81597F-0f9f-e711-8122-000d3aa2331c'); // true
 * isGuid('{6d81597f-0f9f-e711-8122-000d3aa2331c}'); // false
 */
export function isGuid(value: string): boolean {
  if (value.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const code = value.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (code !== 0x2d /* - */) return false;
    } else if (code >= 128 || HEX_DIGIT[code] === 0) return false;
  }
  return true;
}

/** A table or column logical name: letters, digits and `_`, at most 128 characters. */
export const LOGICAL_NAME_PATTERN = '^[A-Za-z0-9_]{1,128}$';
export const LOGICAL_NAME = new RegExp(LOGICAL_NAME_PATTERN);

/** A message name (`Update`, `new_MyCustomApi`): a letter, then letters, digits and `_`, at most 128 characters. */
export const MESSAGE_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_]{0,127}$';
export const MESSAGE_NAME = new RegExp(MESSAGE_NAME_PATTERN);
