/**
 * Request bodies of the connector's operations: size limit, media type, JSON syntax, and the schema the operation
 * declares (`operations.ts`), each failure answered with an error that names the field and what is expected. Values
 * are never echoed in messages: a body may carry a secret.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { findJsonSyntaxError } from '../jsonSyntax.js';
import { type OperationName, operation } from './operations.js';
import { type ApiResponse, apiError } from './responses.js';
import { type DefinitionName, jsonSchemaFor } from './schemas.js';

export { DEFAULT_MAX_BODY_BYTES } from './operations.js';

/** What {@link readJsonBody} gives: the validated body, or the error response to send. */
export type ReadBodyResult<T> = { ok: true; body: T } | { ok: false; response: ApiResponse };

/** The first way a value does not match a schema: the field (a JSON path such as `attributes.name`) and why. */
export interface ShapeProblem {
  target: string;
  message: string;
}

/**
 * Reads and validates the JSON body of an operation that declares one. Answers 413 `PayloadTooLarge` over
 * `maxBytes` (by default the operation's declared limit), 415 `UnsupportedMediaType` when the content type is not JSON (a missing content type is taken as
 * JSON), 400 `InvalidJson` with the line and column of a syntax error, and 400 `InvalidBody` naming the first field
 * that does not match the declared schema (the `target` is its path).
 *
 * @example
 * const read = readJsonBody<PublishEventRequest>(bytes, request.headers.get('content-type'), 'publishEvent');
 * if (!read.ok) return read.response;
 * return publishEvent(read.body, deps);
 */
export function readJsonBody<T = unknown>(
  bytes: Uint8Array,
  contentType: string | null,
  operationName: OperationName,
  maxBytes?: number,
): ReadBodyResult<T> {
  const declared = operation(operationName).body;
  if (!declared) throw new Error(`The ${operationName} operation declares no request body.`);
  maxBytes ??= declared.maxBytes;
  if (bytes.byteLength > maxBytes) {
    return fail(
      413,
      'PayloadTooLarge',
      `The body is ${bytes.byteLength} bytes; this operation accepts at most ${maxBytes}.`,
    );
  }
  if (!isJsonMediaType(contentType)) {
    return fail(
      415,
      'UnsupportedMediaType',
      'The body must be JSON: send it with Content-Type: application/json.',
      'Content-Type',
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail(400, 'InvalidJson', 'The body is not valid UTF-8 text; send JSON encoded as UTF-8.', 'body');
  }
  if (text.trim() === '') return fail(400, 'InvalidJson', 'The body is empty; send a JSON object.', 'body');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return fail(400, 'InvalidJson', `The body is not valid JSON: ${syntaxErrorOf(text)}.`, 'body');
  }
  const problem = declared.checkedByHandler ? undefined : checkShape(declared.definition, body);
  if (problem) return fail(400, 'InvalidBody', problem.message, problem.target);
  return { ok: true, body: body as T };
}

/**
 * The first way `value` does not match a definition of the connector (`x-nullable` fields accept null), or
 * `undefined` when it matches. Tests use it to check that handlers answer what the definition promises.
 *
 * @example
 * checkShape('PublishEventRequest', { table: 'account' });
 * // { target: 'rowId', message: 'rowId is required. The id (a GUID) of the row the event is about.' }
 */
export function checkShape(name: DefinitionName, value: unknown): ShapeProblem | undefined {
  const validate = validatorFor(name);
  if (validate(value)) return undefined;
  const [error] = validate.errors ?? [];
  return error ? describe(error) : { target: 'body', message: 'The body does not match its schema.' };
}

let ajv: Ajv | undefined;
const validators = new Map<DefinitionName, ValidateFunction>();

function validatorFor(name: DefinitionName): ValidateFunction {
  let validate = validators.get(name);
  if (!validate) {
    ajv ??= createAjv();
    validate = ajv.compile(jsonSchemaFor(name));
    validators.set(name, validate);
  }
  return validate;
}

function createAjv(): Ajv {
  // Strict, with the Power Platform extensions declared as annotations (they describe, they do not constrain);
  // verbose so an error carries the schema it broke, whose description tells the caller what is expected.
  // Only the functions that read a body import this module, on their first call (a dynamic import), so ajv loads
  // then, not at start-up; imported statically so that the bundle carries it (the package ships no node_modules).
  // ajv-formats is CommonJS with a default export; under NodeNext its callable is `.default`.
  const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => void }).default;
  const instance = new Ajv({ strict: true, allowUnionTypes: true, verbose: true, allErrors: false });
  addFormats(instance);
  instance.addVocabulary([
    'x-ms-summary',
    'x-ms-visibility',
    'x-ms-notification-url',
    'x-ms-dynamic-values',
    'x-ms-dynamic-schema',
    'x-ms-dynamic-properties',
    'x-ms-enum-values',
    'x-nullable',
  ]);
  return instance;
}

function isJsonMediaType(contentType: string | null): boolean {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return mediaType === '' || mediaType === 'application/json' || /^application\/[\w.-]+\+json$/.test(mediaType);
}

function fail<T>(status: number, code: string, message: string, target?: string): ReadBodyResult<T> {
  return { ok: false, response: apiError(status, code, message, target) };
}

const FORMATS: Record<string, string> = {
  uuid: 'a GUID, e.g. 6d81597f-0f9f-e711-8122-000d3aa2331c',
  uri: 'an absolute URL, e.g. https://example.com/hook',
  'date-time': 'an ISO 8601 date and time, e.g. 2026-11-21T09:00:00Z',
  int32: 'a whole number',
};

/** A sentence that names the field and what it should be; never the value. */
function describe(error: ErrorObject): ShapeProblem {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  const params = error.params as Record<string, unknown>;
  const schema = (error.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown> };
  const child = (name: string) => [...path, name];
  const expected = (description: string | undefined) => (description ? ` ${description}` : '');
  switch (error.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      const property = schema.properties?.[missing] as { description?: string } | undefined;
      return at(child(missing), `${label(child(missing))} is required.${expected(property?.description)}`);
    }
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      const known = Object.keys(schema.properties ?? {}).join(', ');
      return at(
        child(extra),
        `${label(child(extra))} is not a field of ${path.length === 0 ? 'the body' : label(path)}; the fields are ${known}.`,
      );
    }
    case 'type':
      return at(path, `${label(path)} must be ${typeText(String(params.type))}.`);
    case 'format':
      return at(path, `${label(path)} must be ${FORMATS[String(params.format)] ?? `in the ${params.format} format`}.`);
    case 'pattern':
      return at(
        path,
        schema.description
          ? `${label(path)} is not valid: ${lowerFirst(schema.description)}`
          : `${label(path)} must match ${params.pattern}.`,
      );
    case 'minLength':
      return at(path, `${label(path)} must be at least ${params.limit} characters long.`);
    case 'maxLength':
      return at(path, `${label(path)} must be at most ${params.limit} characters long.`);
    case 'minimum':
      return at(path, `${label(path)} must be at least ${params.limit}.`);
    case 'maximum':
      return at(path, `${label(path)} must be at most ${params.limit}.`);
    case 'enum':
      return at(path, `${label(path)} must be one of ${(params.allowedValues as unknown[]).join(', ')}.`);
    default:
      return at(path, `${label(path)} ${error.message ?? 'is not valid'}.`);
  }
}

function at(path: string[], message: string): ShapeProblem {
  return { target: path.length === 0 ? 'body' : jsonPath(path), message };
}

function label(path: string[]): string {
  return path.length === 0 ? 'The body' : jsonPath(path);
}

function jsonPath(path: string[]): string {
  return path
    .map((segment, index) =>
      /^\d+$/.test(segment)
        ? `[${segment}]`
        : /^[A-Za-z_$][\w$]*$/.test(segment)
          ? `${index === 0 ? '' : '.'}${segment}`
          : `[${JSON.stringify(segment)}]`,
    )
    .join('');
}

function typeText(type: string): string {
  return type
    .split(',')
    .map((name) => (name === 'null' ? 'null' : `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`))
    .join(' or ');
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** Where JSON.parse gave up, in words (see {@link findJsonSyntaxError}). */
function syntaxErrorOf(text: string): string {
  const error = findJsonSyntaxError(text);
  if (!error) return 'it cannot be parsed';
  return `unexpected ${error.found} at line ${error.line}, column ${error.column} (position ${error.position})`;
}
