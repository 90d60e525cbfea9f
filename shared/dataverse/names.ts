/**
 * The shapes of Dataverse identifiers, in one place for the reader, the projection and the connector (its request
 * schemas take the `…_PATTERN` strings, the handlers the regular expressions).
 */

/** A row id: a GUID, in either case. */
export const GUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const GUID = new RegExp(GUID_PATTERN);

/** A table or column logical name: letters, digits and `_`, at most 128 characters. */
export const LOGICAL_NAME_PATTERN = '^[A-Za-z0-9_]{1,128}$';
export const LOGICAL_NAME = new RegExp(LOGICAL_NAME_PATTERN);

/** A message name (`Update`, `new_MyCustomApi`): a letter, then letters, digits and `_`, at most 128 characters. */
export const MESSAGE_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_]{0,127}$';
export const MESSAGE_NAME = new RegExp(MESSAGE_NAME_PATTERN);
