/**
 * The typed part of what the webhook trigger (`WhenAnEventOccurs`) delivers: the row of the event,
 * `inputParameters.Target` of the normalized context, with its columns typed from the chosen table's metadata, so a
 * flow picks "Account Name" from the event instead of digging through JSON.
 *
 * Why `Target`: it is the row the operation is about, present for Create, Update and Delete, in the one shape the
 * normalized format gives every Entity (`{ logicalName, id, attributes, formattedValues, keyAttributes, rowVersion }`;
 * a Delete's Target is a reference, `{ logicalName, id, name }`). Images are keyed by names each step registration
 * chooses, so they cannot be typed ahead. For an Update, Target holds the columns the caller set, not the whole row.
 *
 * The values are typed as the normalized format writes them (README "The normalized format"): text as strings, whole
 * numbers as integers, decimals and money as numbers (a Money's `Value`), dates as ISO 8601 UTC strings, yes/no as
 * booleans, a choice as its number and a multi-select choice as an array of numbers (their labels are in
 * `formattedValues`), a lookup as `{ logicalName, id, name }`. Every value may be null (a cleared column).
 *
 * `GetDataverseTableSchema?purpose=event` answers it (`getEventSchema` in `dataverseRows.ts`).
 */
// Light imports only (plainRow.js imports nothing but types): schemas.ts declares the untyped Target from this
// module, and every function file loads schemas.ts.
import { CHOICE_TYPES, LOOKUP_TYPES } from '../dataverseApi/plainRow.js';
import type { ColumnMetadata, TableMetadata } from '../dataverseApi/types.js';
import type { Schema } from './schemas.js';

/** Column types (`AttributeType`) whose values are numbers, with their JSON type. */
export const NUMBER_TYPES: Readonly<Record<string, Schema>> = {
  Integer: { type: 'integer', format: 'int32' },
  BigInt: { type: 'integer', format: 'int64' },
  Decimal: { type: 'number', format: 'decimal' },
  Double: { type: 'number', format: 'double' },
  Money: { type: 'number', format: 'decimal' },
};

/**
 * The schema of an event's `Target`: untyped columns without metadata (what the definition declares statically), or
 * a property per column of the table, labelled with its display name.
 *
 * @example
 * eventTargetSchema(await api.getTable('account')).properties?.attributes?.properties?.name?.['x-ms-summary'];
 * // 'Account Name'
 */
export function eventTargetSchema(metadata?: TableMetadata): Schema {
  const columns = metadata ? [...metadata.columns].sort((a, b) => a.logicalName.localeCompare(b.logicalName)) : [];
  const attributes: Record<string, Schema> = {};
  const formatted: Record<string, Schema> = {};
  for (const column of columns) {
    const value = eventColumn(column);
    if (value) attributes[column.logicalName] = value;
    const text = formattedColumn(column);
    if (text) formatted[column.logicalName] = text;
  }
  const text = (summary: string, description: string, nullable = false): Schema => ({
    type: 'string',
    description,
    'x-ms-summary': summary,
    ...(nullable ? { 'x-nullable': true } : {}),
  });
  return {
    type: 'object',
    properties: {
      logicalName: text('Target Table', 'The logical name of the table of the row, e.g. account.'),
      id: text('Target Row ID', 'The id of the row the operation is about.'),
      name: text('Target Name', 'For a Delete (a reference), the primary name of the row, if Dataverse sent it.', true),
      attributes: {
        type: 'object',
        ...(metadata ? { properties: attributes } : {}),
        description: metadata
          ? `The column values of the ${metadata.displayName} row the operation set (for an Update, only those the caller set).`
          : 'The column values of the row the operation set, by logical name (typed once a table is chosen).',
        'x-ms-summary': 'Column Values',
      },
      formattedValues: {
        type: 'object',
        ...(metadata ? { properties: formatted } : {}),
        description: 'Choice and yes/no labels and formatted numbers, money and dates, by column logical name.',
        'x-ms-summary': 'Formatted Values',
      },
      keyAttributes: {
        type: 'object',
        description: 'The alternate key values the row was addressed by, if any.',
        'x-ms-summary': 'Key Values',
      },
      rowVersion: text('Row Version', 'The version of the row Dataverse sent, if any.', true),
    },
    description: metadata
      ? `The ${metadata.displayName} row the operation is about, with the column values it set.`
      : 'The row the operation is about, with the column values it set (for a Delete, only its table and id).',
    'x-ms-summary': 'Target',
    'x-nullable': true,
  };
}

/** A column's value in the normalized context, or undefined for a type it has no plain JSON shape for here. */
function eventColumn(column: ColumnMetadata): Schema | undefined {
  const label = {
    description: `${column.displayName} (${column.logicalName}, ${column.type}).`,
    'x-ms-summary': column.displayName,
    'x-nullable': true,
  };
  const type = column.type;
  if (type === 'String' || type === 'Memo' || type === 'EntityName') return { type: 'string', ...label };
  if (NUMBER_TYPES[type]) return { ...NUMBER_TYPES[type], ...label };
  if (type === 'Boolean') return { type: 'boolean', ...label };
  if (type === 'DateTime') return { type: 'string', format: 'date-time', ...label };
  if (type === 'Uniqueidentifier') return { type: 'string', ...label };
  if (CHOICE_TYPES.has(type)) return { type: 'integer', format: 'int32', ...label };
  if (type === 'Virtual' && column.options) {
    // A multi-select choice: the normalized format writes its options' numbers.
    return {
      type: 'array',
      items: {
        type: 'integer',
        format: 'int32',
        description: 'The number of a chosen option.',
        'x-ms-summary': `${column.displayName} Option`,
      },
      ...label,
    };
  }
  if (LOOKUP_TYPES.has(type)) {
    const item = (suffix: string, description: string, nullable = false): Schema => ({
      type: 'string',
      description,
      'x-ms-summary': `${column.displayName} ${suffix}`,
      ...(nullable ? { 'x-nullable': true } : {}),
    });
    return {
      type: 'object',
      properties: {
        logicalName: item('Table', `The table of the row: ${(column.targets ?? []).join(', ') || 'any'}.`),
        id: item('ID', 'The id of the row.'),
        name: item('Name', 'The primary name of the row, if Dataverse sent it.', true),
        keyAttributes: {
          type: 'object',
          description: 'The alternate key values of the reference, if any.',
          'x-ms-summary': `${column.displayName} Key Values`,
        },
      },
      ...label,
    };
  }
  return undefined;
}

/** The formatted value Dataverse sends for a column, or undefined for columns it sends none for. */
function formattedColumn(column: ColumnMetadata): Schema | undefined {
  const labelled =
    CHOICE_TYPES.has(column.type) || column.type === 'Boolean' || (column.type === 'Virtual' && column.options);
  if (labelled) {
    return {
      type: 'string',
      description: `The label of ${column.displayName} (${column.logicalName}); several are separated by "; ".`,
      'x-ms-summary': `${column.displayName} Label`,
    };
  }
  if (NUMBER_TYPES[column.type] || column.type === 'DateTime') {
    return {
      type: 'string',
      description: `${column.displayName} (${column.logicalName}) as Dataverse formats it for the user.`,
      'x-ms-summary': `${column.displayName} Formatted`,
    };
  }
  return undefined;
}
