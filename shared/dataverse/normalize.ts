import { camelCase } from './camelCase.js';
import { ContextFormatError } from './errors.js';
import { isoFromEpochMs } from './isoDate.js';
import { isGuid } from './names.js';
import type {
  NormalizedContext,
  NormalizedEntity,
  NormalizedEntityReference,
  NormalizedObject,
  NormalizedValue,
} from './types.js';

/** What the transport told us, already reduced to the two facts the normalized context carries. */
export interface TransportFacts {
  messageMaxSizeExceeded: boolean;
  organizationUrl: string | null;
}

/**
 * Real contexts nest about 12 levels (ParentContext → InputParameters → Entity → Attributes → EntityCollection …);
 * a QueryExpression with nested filters adds a few more per level. Anything deeper is not Dataverse output, and the
 * limit keeps a hostile body from exhausting the stack.
 */
export const MAX_NESTING = 200;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const DATE = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$/;

/**
 * `Entity:http://schemas.microsoft.com/xrm/2011/Contracts` → `Entity`; `Guid:#System` → `Guid`. Sliced, not looked up
 * in a cache: every hint is a fresh string from JSON.parse, and hashing all of it costs more than finding the colon.
 */
function typeNameOf(hint: string): string {
  const colon = hint.indexOf(':');
  return colon < 0 ? hint : hint.slice(0, colon);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets a property even when the key is `__proto__`, so data can never change an object's prototype. */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * Converts `/Date(1506409448000-0700)/` (milliseconds since the epoch, UTC; the offset is informational) to ISO 8601
 * UTC. Returns `undefined` for strings that are not of that form.
 */
export function parseDataContractDate(value: string): string | undefined {
  const match = DATE.exec(value);
  return match ? isoFromEpochMs(Number(match[1])) : undefined;
}

/**
 * The walk over a parsed context. One instance per call: it tracks the JSON path of the value being read so an error
 * can say exactly where the problem is, and the nesting depth.
 */
class Normalizer {
  private readonly path: (string | number)[] = ['$'];

  constructor(private readonly facts: TransportFacts) {}

  fail(problem: string, hint?: string): never {
    throw new ContextFormatError('InvalidValue', problem, { path: this.pathText(), hint });
  }

  private pathText(): string {
    let text = '';
    for (const part of this.path) text += typeof part === 'number' ? `[${part}]` : text === '' ? part : `.${part}`;
    return text;
  }

  private enter(part: string | number): void {
    if (this.path.length > MAX_NESTING) {
      throw new ContextFormatError('TooDeep', `The JSON nests more than ${MAX_NESTING} levels deep`, {
        path: this.pathText(),
      });
    }
    this.path.push(part);
  }

  private leave(): void {
    this.path.pop();
  }

  context(raw: unknown): NormalizedContext {
    if (!isObject(raw)) {
      throw new ContextFormatError(
        'NotAContext',
        `Expected a JSON object (a RemoteExecutionContext), got ${describe(raw)}`,
        {
          path: this.pathText(),
        },
      );
    }
    if (raw.MessageName === undefined) {
      throw new ContextFormatError(
        'NotAContext',
        'This JSON is not a Dataverse execution context: MessageName is missing',
        {
          path: this.pathText(),
          hint: 'Dataverse posts a RemoteExecutionContext; check that the service endpoint or webhook sends the execution context.',
        },
      );
    }
    const messageName = this.requiredString(raw, 'MessageName');
    const inputParameters = this.collection(raw, 'InputParameters');
    const out: NormalizedContext = {
      messageName,
      primaryEntityName: this.requiredString(raw, 'PrimaryEntityName'),
      primaryEntityId: this.guid(raw, 'PrimaryEntityId', true) as string,
      secondaryEntityName: this.optionalString(raw, 'SecondaryEntityName'),
      stage: this.integer(raw, 'Stage'),
      mode: this.integer(raw, 'Mode'),
      depth: this.integer(raw, 'Depth'),
      isolationMode: this.integer(raw, 'IsolationMode'),
      operationId: this.guid(raw, 'OperationId', false),
      operationCreatedOn: this.date(raw, 'OperationCreatedOn'),
      requestId: this.guid(raw, 'RequestId', false),
      correlationId: this.guid(raw, 'CorrelationId', false),
      organizationId: this.guid(raw, 'OrganizationId', true) as string,
      organizationName: this.optionalString(raw, 'OrganizationName'),
      businessUnitId: this.guid(raw, 'BusinessUnitId', false),
      userId: this.guid(raw, 'UserId', false),
      initiatingUserId: this.guid(raw, 'InitiatingUserId', false),
      userAzureActiveDirectoryObjectId: this.guid(raw, 'UserAzureActiveDirectoryObjectId', false),
      initiatingUserAzureActiveDirectoryObjectId: this.guid(raw, 'InitiatingUserAzureActiveDirectoryObjectId', false),
      initiatingUserAgent: this.optionalString(raw, 'InitiatingUserAgent'),
      isExecutingOffline: this.boolean(raw, 'IsExecutingOffline'),
      isInTransaction: this.boolean(raw, 'IsInTransaction'),
      isOfflinePlayback: this.boolean(raw, 'IsOfflinePlayback'),
      owningExtension: this.owningExtension(raw),
      inputParameters,
      outputParameters: this.collection(raw, 'OutputParameters'),
      sharedVariables: this.collection(raw, 'SharedVariables'),
      preEntityImages: this.images(raw, 'PreEntityImages'),
      postEntityImages: this.images(raw, 'PostEntityImages'),
      parentContext: this.parentContext(raw),
      changedAttributes: messageName === 'Update' ? changedAttributesOf(inputParameters.Target) : [],
      messageMaxSizeExceeded: this.facts.messageMaxSizeExceeded,
      organizationUrl: this.facts.organizationUrl,
    };
    for (const key in raw) {
      if (KNOWN_CONTEXT_KEYS.has(key)) continue;
      const name = camelCase(key);
      if (name in out) continue; // a known field always wins over a look-alike
      this.enter(key);
      put(out, name, this.value(raw[key] as Json));
      this.leave();
    }
    return out;
  }

  private requiredString(raw: JsonObject, key: string): string {
    const value = raw[key];
    if (typeof value === 'string' && value !== '') return value;
    this.enter(key);
    return this.fail(
      value === undefined ? `${key} is missing` : `${key} must be a non-empty string, got ${describe(value)}`,
    );
  }

  private optionalString(raw: JsonObject, key: string): string | null {
    const value = raw[key];
    if (value === undefined || value === null) return null;
    if (typeof value === 'string') return value;
    this.enter(key);
    return this.fail(`${key} must be a string, got ${describe(value)}`);
  }

  private guid(raw: JsonObject, key: string, required: boolean): string | null {
    const value = raw[key];
    if ((value === undefined || value === null) && !required) return null;
    if (typeof value === 'string' && isGuid(value)) return value;
    this.enter(key);
    return this.fail(
      value === undefined ? `${key} is missing` : `${key} must be a GUID string, got ${describe(value)}`,
    );
  }

  private integer(raw: JsonObject, key: string): number | null {
    const value = raw[key];
    if (value === undefined || value === null) return null;
    if (Number.isInteger(value)) return value as number;
    this.enter(key);
    return this.fail(`${key} must be an integer, got ${describe(value)}`);
  }

  private boolean(raw: JsonObject, key: string): boolean | null {
    const value = raw[key];
    if (value === undefined || value === null) return null;
    if (typeof value === 'boolean') return value;
    this.enter(key);
    return this.fail(`${key} must be true or false, got ${describe(value)}`);
  }

  private date(raw: JsonObject, key: string): string | null {
    const value = raw[key];
    if (value === undefined || value === null) return null;
    if (typeof value === 'string') {
      const iso = parseDataContractDate(value) ?? isoToUtc(value);
      if (iso !== undefined) return iso;
    }
    this.enter(key);
    return this.fail(`${key} must be a date such as "/Date(1506409448000)/" or ISO 8601, got ${describe(value)}`);
  }

  private owningExtension(raw: JsonObject): NormalizedEntityReference | null {
    const value = raw.OwningExtension;
    if (value === undefined || value === null) return null;
    this.enter('OwningExtension');
    const result = this.entityReference(value);
    this.leave();
    return result;
  }

  private parentContext(raw: JsonObject): NormalizedContext | null {
    const value = raw.ParentContext;
    if (value === undefined || value === null) return null;
    this.enter('ParentContext');
    const result = this.context(value);
    this.leave();
    return result;
  }

  /** A top-level key/value collection: missing or null means empty (Dataverse drops them above 192/256 KB). */
  private collection(raw: JsonObject, key: string): NormalizedObject {
    const value = raw[key];
    if (value === undefined || value === null) return {};
    this.enter(key);
    const result = this.keyValues(value, 'values');
    this.leave();
    return result;
  }

  private images(raw: JsonObject, key: string): { [name: string]: NormalizedEntity } {
    const value = raw[key];
    if (value === undefined || value === null) return {};
    this.enter(key);
    const result = this.keyValues(value, 'entities');
    this.leave();
    return result;
  }

  /**
   * `[{"key": k, "value": v}, …]` → `{ k: v, … }`, order kept; the values are read as values or as entities (images).
   * A flag rather than a converter callback: this runs for every collection of every context, and a callback would be
   * a closure allocated per call and a call site V8 cannot inline.
   */
  private keyValues(value: Json, items: 'values'): NormalizedObject;
  private keyValues(value: Json, items: 'entities'): { [key: string]: NormalizedEntity };
  private keyValues(value: Json, items: 'values' | 'entities'): { [key: string]: NormalizedValue } {
    if (!Array.isArray(value)) return this.fail(`Expected an array of {"key", "value"} pairs, got ${describe(value)}`);
    const out: { [key: string]: NormalizedValue } = {};
    for (let i = 0; i < value.length; i++) {
      const pair = value[i];
      if (!isObject(pair) || typeof pair.key !== 'string' || !('value' in pair)) {
        this.enter(i);
        this.fail(`Expected a {"key": string, "value": …} pair, got ${describe(pair)}`);
      }
      const item = pair.value as Json;
      // As in valueAt, a primitive skips the path; it sits two levels down ([i].value), hence `<`.
      if (items === 'values' && isPrimitive(item) && this.path.length < MAX_NESTING) {
        put(out, pair.key, primitive(item));
        continue;
      }
      this.enter(i);
      this.enter('value');
      put(out, pair.key, items === 'entities' ? this.entity(item) : this.value(item));
      this.leave();
      this.leave();
    }
    return out;
  }

  /**
   * `this.value(item)` at `part` of the current path. A primitive cannot fail, so it skips the path bookkeeping (not
   * the nesting limit): most values in a context are primitives, and the bookkeeping was a good part of the walk.
   */
  private valueAt(part: string | number, item: Json): NormalizedValue {
    if (isPrimitive(item) && this.path.length <= MAX_NESTING) return primitive(item);
    this.enter(part);
    const result = this.value(item);
    this.leave();
    return result;
  }

  value(value: Json): NormalizedValue {
    if (isPrimitive(value)) return primitive(value);
    if (Array.isArray(value)) {
      if (isKeyValueArray(value)) return this.keyValues(value, 'values');
      const out: NormalizedValue[] = new Array(value.length);
      for (let i = 0; i < value.length; i++) out[i] = this.valueAt(i, value[i] as Json);
      return out;
    }
    return this.object(value);
  }

  private object(value: JsonObject): NormalizedValue {
    const hint = value.__type;
    if (hint === undefined) {
      if (Array.isArray(value.Attributes) && typeof value.LogicalName === 'string') return this.entity(value);
      return this.plainObject(value, undefined);
    }
    if (typeof hint !== 'string') {
      this.enter('__type');
      return this.fail(`__type must be a string, got ${describe(hint)}`);
    }
    const type = typeNameOf(hint);
    switch (type) {
      case 'Entity':
        return this.entity(value);
      case 'EntityReference':
        return this.entityReference(value);
      case 'OptionSetValue':
      case 'Money':
        return this.wrapped(value, type, 'number');
      case 'BooleanManagedProperty':
        return this.wrapped(value, type, 'boolean');
      case 'AliasedValue':
        return this.member(value, 'Value', (item) => this.value(item));
      case 'EntityCollection':
        return this.entityCollection(value);
      case 'EntityReferenceCollection':
        // Serialized as an object only by hand-made producers; Dataverse emits a plain array of references.
        return this.member(value, 'Entities', (items) => this.list(items, (item) => this.entityReference(item)));
      default:
        // {"__type":"Guid:#System","__value":"…"}: a primitive in a type-hint wrapper.
        if ('__value' in value && Object.keys(value).length === 2) {
          return this.member(value, '__value', (item) => this.value(item));
        }
        return this.plainObject(value, type);
    }
  }

  private wrapped(value: JsonObject, type: string, kind: 'number' | 'boolean'): number | boolean {
    const inner = value.Value;
    if (typeof inner === kind) return inner as number | boolean;
    this.enter('Value');
    return this.fail(`${type}.Value must be a ${kind}, got ${describe(inner)}`);
  }

  private member<T>(value: JsonObject, key: string, convert: (item: Json) => T): T {
    if (!(key in value)) return this.fail(`${key} is missing`);
    this.enter(key);
    const result = convert(value[key] as Json);
    this.leave();
    return result;
  }

  private list<T>(value: Json, convert: (item: Json) => T): T[] {
    if (!Array.isArray(value)) return this.fail(`Expected an array, got ${describe(value)}`);
    const out: T[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      this.enter(i);
      out[i] = convert(value[i] as Json);
      this.leave();
    }
    return out;
  }

  private plainObject(value: JsonObject, type: string | undefined): NormalizedObject {
    const out: NormalizedObject = {};
    for (const key in value) {
      if (key === '__type') continue;
      put(out, camelCase(key), this.valueAt(key, value[key] as Json));
    }
    if (type !== undefined) out.$type = type;
    return out;
  }

  private entityCollection(value: JsonObject): NormalizedEntity[] {
    return this.member(value, 'Entities', (items) => this.list(items, (item) => this.entity(item)));
  }

  entity(value: Json): NormalizedEntity {
    if (!isObject(value)) return this.fail(`Expected an Entity object, got ${describe(value)}`);
    const entity: NormalizedEntity = {
      logicalName: this.requiredString(value, 'LogicalName'),
      id: this.guid(value, 'Id', true) as string,
      attributes: this.collection(value, 'Attributes'),
      formattedValues: this.collection(value, 'FormattedValues'),
      keyAttributes: this.collection(value, 'KeyAttributes'),
      rowVersion: this.optionalString(value, 'RowVersion'),
    };
    const related = value.RelatedEntities;
    if (Array.isArray(related) && related.length > 0) {
      this.enter('RelatedEntities');
      entity.relatedEntities = this.relatedEntities(related);
      this.leave();
    }
    return entity;
  }

  /** RelatedEntities pairs a Relationship (not a string) with an EntityCollection; we key by schema name. */
  private relatedEntities(pairs: Json[]): { [schemaName: string]: NormalizedEntity[] } {
    const out: { [schemaName: string]: NormalizedEntity[] } = {};
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i];
      this.enter(i);
      if (!isObject(pair) || !isObject(pair.key) || typeof pair.key.SchemaName !== 'string') {
        this.fail('Expected a {"key": Relationship, "value": EntityCollection} pair');
      }
      const schemaName = pair.key.SchemaName as string;
      this.enter('value');
      if (!isObject(pair.value)) this.fail(`Expected an EntityCollection, got ${describe(pair.value)}`);
      put(out, schemaName, this.entityCollection(pair.value as JsonObject));
      this.leave();
      this.leave();
    }
    return out;
  }

  private entityReference(value: Json): NormalizedEntityReference {
    if (!isObject(value)) return this.fail(`Expected an EntityReference object, got ${describe(value)}`);
    const reference: NormalizedEntityReference = {
      logicalName: this.requiredString(value, 'LogicalName'),
      id: this.guid(value, 'Id', true) as string,
      name: this.optionalString(value, 'Name'),
    };
    const keys = value.KeyAttributes;
    if (Array.isArray(keys) && keys.length > 0) reference.keyAttributes = this.collection(value, 'KeyAttributes');
    return reference;
  }
}

type JsonPrimitive = null | boolean | number | string;

function isPrimitive(value: Json): value is JsonPrimitive {
  return value === null || typeof value !== 'object';
}

/** A primitive as normalized: `/Date(…)/` strings become ISO 8601, everything else is kept. */
function primitive(value: JsonPrimitive): JsonPrimitive {
  return typeof value === 'string' && value.charCodeAt(0) === 0x2f /* / */
    ? (parseDataContractDate(value) ?? value)
    : value;
}

/** Generic `{key, value}` arrays (such as `KeyValuePairOfstringstring` lists in SharedVariables) become objects. */
function isKeyValueArray(value: Json[]): boolean {
  if (value.length === 0) return false;
  for (const item of value) {
    if (!isObject(item) || typeof item.key !== 'string' || !('value' in item)) return false;
    for (const key in item) {
      if (key !== 'key' && key !== 'value' && key !== '__type') return false;
    }
  }
  return true;
}

function isoToUtc(value: string): string | undefined {
  if (!ISO_DATE.test(value)) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function changedAttributesOf(target: NormalizedValue | undefined): string[] {
  if (typeof target !== 'object' || target === null || Array.isArray(target)) return [];
  const attributes = (target as Partial<NormalizedEntity>).attributes;
  return typeof attributes === 'object' && attributes !== null ? Object.keys(attributes) : [];
}

const KNOWN_CONTEXT_KEYS = new Set([
  'BusinessUnitId',
  'CorrelationId',
  'Depth',
  'InitiatingUserAgent',
  'InitiatingUserAzureActiveDirectoryObjectId',
  'InitiatingUserId',
  'InputParameters',
  'IsExecutingOffline',
  'IsInTransaction',
  'IsOfflinePlayback',
  'IsolationMode',
  'MessageName',
  'Mode',
  'OperationCreatedOn',
  'OperationId',
  'OrganizationId',
  'OrganizationName',
  'OutputParameters',
  'OwningExtension',
  'ParentContext',
  'PostEntityImages',
  'PreEntityImages',
  'PrimaryEntityId',
  'PrimaryEntityName',
  'RequestId',
  'SecondaryEntityName',
  'SharedVariables',
  'Stage',
  'UserAzureActiveDirectoryObjectId',
  'UserId',
]);

/**
 * Normalizes an already-parsed RemoteExecutionContext (DESIGN.md, "The normalized context").
 * Throws {@link ContextFormatError} naming the JSON path of the first value that is not what Dataverse sends.
 */
export function normalizeContext(raw: unknown, facts: TransportFacts): NormalizedContext {
  return new Normalizer(facts).context(raw);
}
