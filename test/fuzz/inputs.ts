/**
 * Generators of bad input for the fuzz suites: bodies (malformed JSON, bytes that are not text, invalid UTF-8, deep
 * nesting, valid bodies with wrong keys, wrong types and prototype keys), content types, path values and query
 * strings. Everything is built from fast-check arbitraries, so a run is reproducible from its seed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { REPO_ROOT } from '../helpers/localHost.js';

export const CONTACT_ID = '6d81597f-0f9f-e711-8122-000d3aa2331c';

/** The Dataverse webhook sample every context mutation starts from. */
export const SAMPLE_CONTEXT = readFileSync(
  join(REPO_ROOT, 'samples', 'contexts', 'msdocs-usewebhooks-update-contact.json'),
);

/**
 * A valid body of each operation that takes one (see `shared/connector/schemas.ts`); mutations of them reach the
 * validation of every field rather than stopping at "not an object". The subscription's callback is a port nothing
 * listens on, so a subscription the fuzzer happens to create fails fast.
 */
export const VALID_BODIES: Record<string, Record<string, unknown>> = {
  publishEvent: { table: 'contact', rowId: CONTACT_ID, message: 'Update', attributes: { firstname: 'Ada', age: 3 } },
  createSubscription: {
    callbackUrl: 'http://127.0.0.1:9/hook',
    table: 'contact',
    messages: 'Create,Update',
    columns: 'firstname',
    onlyWhenValuesChange: true,
  },
  dataverseWebhook: JSON.parse(SAMPLE_CONTEXT.toString('utf8')) as Record<string, unknown>,
  createDataverseRow: {
    firstname: 'Ada',
    lastname: 'Lovelace',
    parentcustomerid: { table: 'account', id: CONTACT_ID },
  },
  updateDataverseRow: { firstname: 'Ada' },
};

/** Nesting far beyond any real body: the recursive parts of a server (stringify, validators, scanners) meet it. */
export const DEEP_BODIES: Record<string, Buffer> = {
  'open arrays': Buffer.from('['.repeat(100_000)),
  'closed arrays': Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
  'closed objects': Buffer.from(`${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`),
  'deep value in a valid body': Buffer.from(
    `{"table":"contact","rowId":"${CONTACT_ID}","message":"Update","attributes":{"x":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`,
  ),
};

/** A body of a few MB: far over every connector limit (64 KB, 16 KB), under the host's own 100 MB. */
export const HUGE_BODY = Buffer.from(JSON.stringify({ table: 'contact', padding: 'x'.repeat(3 * 1024 * 1024) }));

/** Content types a client may send, right, wrong or nonsensical; `undefined` sends none. */
export const contentTypes = fc.constantFrom<string | undefined>(
  undefined,
  'application/json',
  'APPLICATION/JSON; charset=UTF-8',
  'application/json; charset=utf-16',
  'application/json;;;charset',
  'application/vnd.api+json',
  'text/plain',
  'text/json',
  'application/xml',
  'text/xml; charset=utf-8',
  'application/msbin1',
  'multipart/form-data; boundary=----x',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  '*/*',
  '',
  'garbage',
  ';',
  'application/',
  `application/${'x'.repeat(2000)}`,
);

/** Bytes that are not UTF-8: a lone continuation byte, an overlong encoding, a surrogate, a truncated sequence. */
const INVALID_UTF8 = [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], [0xff, 0xfe], [0xc3, 0x28]];

/** A JSON text with invalid UTF-8 inside a string value, so only a strict decoder notices. */
const invalidUtf8Json = fc
  .constantFrom(...INVALID_UTF8)
  .map((bad) =>
    Buffer.concat([Buffer.from('{"table":"cont'), Buffer.from(bad), Buffer.from('act","message":"Update"}')]),
  );

const JSON_BREAKERS = ['', '{', '}', '[', ']', ',', ':', '"', '\\', 'NaN', 'undefined', "'", '\u0000', '/*', '\n'];

/** A valid JSON text cut short, or with a character that breaks the grammar put somewhere in it. */
function malformedJson(valid: string): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.nat(valid.length - 1).map((cut) => Buffer.from(valid.slice(0, cut))),
    fc
      .tuple(fc.nat(valid.length), fc.constantFrom(...JSON_BREAKERS))
      .map(([at, breaker]) => Buffer.from(`${valid.slice(0, at)}${breaker}${valid.slice(at + 1)}`)),
    fc.constantFrom(
      Buffer.from("{'table': 'contact'}"),
      Buffer.from('{"table": "contact",}'),
      Buffer.from('{"table": NaN}'),
      Buffer.from('{"a":1}{"b":2}'),
      Buffer.from('\uFEFF{"table":"contact"}'),
      Buffer.from(' \n\t '),
    ),
  );
}

/** A value of a type a schema would not expect. */
const otherValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom<unknown>(null, true, 0, -1, 1e308, '', ' ', [], {}, 'x'.repeat(5000)),
);

/** Property names that attack prototypes, differ only by case, or are otherwise odd. */
const ODD_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' ', '$type', '__type'];
const oddKey = fc.oneof(fc.constantFrom(...ODD_KEYS), fc.string({ maxLength: 20 }));

/**
 * A valid body with one thing wrong: a key removed, renamed (wrong case, typo), given a value of another type, or an
 * extra property (prototype keys included), written as JSON text so `__proto__` stays an own key.
 */
export function mutatedBody(valid: Record<string, unknown>): fc.Arbitrary<Buffer> {
  return mutatedBodyBytes(valid).map(shortPrint);
}

function mutatedBodyBytes(valid: Record<string, unknown>): fc.Arbitrary<Buffer> {
  const keys = Object.keys(valid);
  const key = fc.constantFrom(...keys);
  const without = (name: string) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== name));
  const mutation = fc.oneof(
    key.map((name) => without(name)),
    key.map((name) => ({ ...without(name), [name.toUpperCase()]: valid[name] })),
    key.map((name) => ({ ...without(name), [`${name}s`]: valid[name] })),
    fc.tuple(key, otherValue).map(([name, value]) => ({ ...valid, [name]: value })),
    fc.tuple(oddKey, otherValue).map(([name, value]) => ({ ...valid, [name]: value })),
  );
  return fc.oneof(
    mutation.map((body) => Buffer.from(JSON.stringify(body))),
    // JSON.stringify drops a `__proto__` set through an object literal; put it in the text itself.
    fc
      .tuple(fc.constantFrom('__proto__', 'constructor'), otherValue)
      .map(([name, value]) =>
        Buffer.from(`{${JSON.stringify(name)}:${JSON.stringify(value)},${JSON.stringify(valid).slice(1)}`),
      ),
  );
}

/**
 * The body, printed short in a counterexample (fast-check would list every byte of it); the seed and path that
 * fast-check prints reproduce it exactly.
 */
export function shortPrint(body: Buffer): Buffer {
  const preview = JSON.stringify(body.toString('latin1', 0, 120));
  return Object.defineProperty(body, fc.toStringMethod, {
    value: () => `<${body.length} bytes: ${preview}${body.length > 120 ? '…' : ''}>`,
    configurable: true,
  });
}

/** Any bad body for an operation whose valid body is `valid` (or `{}` for operations that take none). */
export function badBody(valid: Record<string, unknown> = {}): fc.Arbitrary<Buffer> {
  return badBodyBytes(valid).map(shortPrint);
}

function badBodyBytes(valid: Record<string, unknown>): fc.Arbitrary<Buffer> {
  const text = JSON.stringify(valid);
  return fc.oneof(
    { weight: 3, arbitrary: malformedJson(text.length > 1 ? text : '{"table":"contact"}') },
    { weight: 4, arbitrary: mutatedBodyBytes(Object.keys(valid).length ? valid : (VALID_BODIES.publishEvent ?? {})) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
    { weight: 1, arbitrary: invalidUtf8Json },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => Buffer.from(JSON.stringify(value))) },
    { weight: 1, arbitrary: fc.constant(Buffer.from(text, 'utf16le')) },
  );
}

/** A body for any request: none, a bad one, or (rarely) the valid one. */
export function anyBody(valid: Record<string, unknown> | undefined): fc.Arbitrary<Buffer | undefined> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 8, arbitrary: badBody(valid) },
    { weight: 1, arbitrary: fc.constant(shortPrint(Buffer.from(JSON.stringify(valid ?? {})))) },
  );
}

/** Valid-looking values of a route parameter, by its name. */
function plausible(name: string): string[] {
  if (name === 'table') return ['contact', 'account', 'Contact'];
  if (name === 'id') return [CONTACT_ID, '0123456789abcdef0123456789abcdef', CONTACT_ID.toUpperCase()];
  return ['x'];
}

/** Route parameter values as they go on the wire: valid-looking, and malformed in every way a path can be. */
export function pathValue(name: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...plausible(name)),
    fc.constantFrom(
      '%20',
      '..',
      '%2E%2E',
      '%2F',
      'a%2Fb',
      '%00',
      '%',
      '%zz',
      '%E0%A4%A',
      '%C3%28',
      '%ED%A0%80',
      '%F0%9F%98%80',
      '__proto__',
      'constructor',
      "'%20or%20'1'%20eq%20'1",
      'PartitionKey%20eq%20%27x%27',
      `{${CONTACT_ID}}`,
      'a'.repeat(1000),
      '0'.repeat(32),
      'G'.repeat(32),
    ),
    fc.string({ maxLength: 40 }).map((text) => encodeURIComponent(text)),
  );
}

// `code` (the key) is left to the key variants of the suites, which put it in on purpose.
const QUERY_NAMES = ['top', 'since', 'continuation', 'status', 'token', '__proto__', 'x'];

/** Values of the query parameters the list operations read, right and wrong. */
const queryValue = fc.oneof(
  fc.constantFrom(
    '',
    '0',
    '-1',
    '1',
    '50',
    '1000',
    '1001',
    '1.5',
    '1e3',
    '0x10',
    'Infinity',
    'NaN',
    '%20',
    '%',
    '%zz',
    '%00',
    'yesterday',
    '2026-13-45T25:61:61Z',
    '2026-11-21T09:00:00Z',
    '0001-01-01T00:00:00Z',
    '%2B275760-09-13T00:00:00.000Z',
    '-271821-04-20T00:00:00Z',
    '9999-12-31T23:59:59.9999999Z',
    'published',
    'rejected',
    'PUBLISHED',
    'bogus',
    'eyJ0YWJsZSI6IngifQ',
    'eyJwayI6IiIsInJrIjoiIn0%3D',
    Buffer.from('{"nextPartitionKey":"\'","nextRowKey":null}').toString('base64url'),
    'a'.repeat(1500),
  ),
  fc.string({ maxLength: 30 }).map((text) => encodeURIComponent(text)),
  fc.base64String({ maxLength: 60 }).map((text) => encodeURIComponent(text)),
);

/** A query string (with its `?`, or empty) of up to six parameters, names repeated at will. */
export const queryString = fc
  .array(fc.tuple(fc.constantFrom(...QUERY_NAMES), queryValue), { maxLength: 6 })
  .map((pairs) => (pairs.length ? `?${pairs.map(([name, value]) => `${name}=${value}`).join('&')}` : ''));

/** Methods to try on a route: its own, and the wrong ones. */
export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

/** How a request carries the function key: right (header or `?code=`), or missing, wrong or empty. */
export const KEY_VARIANTS = ['header', 'query', 'none', 'wrong header', 'wrong query', 'empty header', 'empty query'];

/** Whether a key variant carries the right key. */
export function rightKey(variant: string): boolean {
  return variant === 'header' || variant === 'query';
}

/** The path (query included) and headers that carry `key` the way `variant` says. */
export function withKey(
  variant: string,
  key: string,
  path: string,
  headers: Record<string, string> = {},
): { path: string; headers: Record<string, string> } {
  const given = variant.startsWith('wrong') ? `${key}x` : variant.startsWith('empty') ? '' : key;
  if (variant === 'none') return { path, headers };
  if (variant.endsWith('header')) return { path, headers: { ...headers, 'x-functions-key': given } };
  const separator = path.includes('?') ? '&' : '?';
  return { path: `${path}${separator}code=${encodeURIComponent(given)}`, headers };
}

/** Headers the app reads (transport facts, proxies, correlation), with odd values, and a few it should ignore. */
const HEADER_NAMES = [
  'x-forwarded-host',
  'x-ms-dynamics-organization',
  'x-ms-dynamics-msg-size-exceeded',
  'x-ms-dynamics-entity-name',
  'x-ms-dynamics-request-name',
  'x-ms-correlation-request-id',
  'x-request-id',
  'content-encoding',
  'accept',
  'accept-charset',
];
const headerValue = fc.oneof(
  fc.constantFrom('', ' ', 'a b', 'gzip', 'contoso.crm.dynamics.com', 'evil.com:99999', 'x'.repeat(4000), 'true', '0'),
  fc.stringMatching(/^[\x20-\x7e]{0,60}$/),
);
export const oddHeaders = fc.dictionary(fc.constantFrom(...HEADER_NAMES), headerValue, { maxKeys: 3 });
