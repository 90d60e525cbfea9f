import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_BODY_BYTES, readJsonBody } from '../../shared/connector/requests.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const json = (value: unknown) => bytes(JSON.stringify(value));
const ROW_ID = '6d81597f-0f9f-e711-8122-000d3aa2331c';
const EVENT = { table: 'account', rowId: ROW_ID, message: 'Update' };
const CALLBACK = 'https://prod-00.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SIGSECRET';

/** The error of a failed read, or a test failure when it succeeded. */
function errorOf(result: ReturnType<typeof readJsonBody>) {
  if (result.ok) throw new Error('expected the body to be refused');
  return {
    status: result.response.status,
    ...(result.response.jsonBody as { error: { code: string; message: string; target?: string } }).error,
  };
}

describe('readJsonBody', () => {
  it('accepts good bodies and returns them as parsed', () => {
    const full = {
      ...EVENT,
      attributes: { name: 'Contoso', revenue: 5, active: true, fax: null },
      idempotencyKey: 'k',
    };
    expect(readJsonBody(json(EVENT), 'application/json', 'publishEvent')).toEqual({ ok: true, body: EVENT });
    expect(readJsonBody(json(full), 'application/json; charset=utf-8', 'publishEvent')).toEqual({
      ok: true,
      body: full,
    });
    const subscription = {
      callbackUrl: CALLBACK,
      table: 'account',
      messages: 'Create,Update',
      columns: 'name,telephone1',
      secret: 'a'.repeat(16),
    };
    expect(readJsonBody(json(subscription), null, 'createSubscription')).toEqual({ ok: true, body: subscription });
    expect(readJsonBody(json({ callbackUrl: CALLBACK, table: '' }), '', 'createSubscription').ok).toBe(true);
    // A blank optional field from the designer means "generate one".
    expect(readJsonBody(json({ callbackUrl: CALLBACK, secret: '' }), null, 'createSubscription').ok).toBe(true);
  });

  it('takes JSON with any charset, any case, a +json type, a byte order mark, or no content type at all', () => {
    for (const type of [null, 'APPLICATION/JSON', 'application/json;charset=UTF-8', 'application/vnd.bridge+json'])
      expect(readJsonBody(json(EVENT), type, 'publishEvent').ok, String(type)).toBe(true);
    expect(readJsonBody(bytes(`\uFEFF${JSON.stringify(EVENT)}`), 'application/json', 'publishEvent').ok).toBe(true);
  });

  it('answers 413 PayloadTooLarge over the limit (64 KiB unless told)', () => {
    expect(DEFAULT_MAX_BODY_BYTES).toBe(65536);
    const large = json({ ...EVENT, attributes: { description: 'x'.repeat(65536) } });
    expect(errorOf(readJsonBody(large, 'application/json', 'publishEvent'))).toEqual({
      status: 413,
      code: 'PayloadTooLarge',
      message: `The body is ${large.byteLength} bytes; this operation accepts at most 65536.`,
    });
    expect(errorOf(readJsonBody(json(EVENT), 'application/json', 'publishEvent', 10))).toMatchObject({
      status: 413,
      message: expect.stringContaining('at most 10'),
    });
    // Exactly at the limit is read (and here refused only as an empty body).
    expect(errorOf(readJsonBody(new Uint8Array(10).fill(0x20), null, 'publishEvent', 10)).code).toBe('InvalidJson');
  });

  it('answers 415 UnsupportedMediaType when the body is not sent as JSON', () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'application/jsonp'])
      expect(errorOf(readJsonBody(json(EVENT), type, 'publishEvent')), type).toEqual({
        status: 415,
        code: 'UnsupportedMediaType',
        message: 'The body must be JSON: send it with Content-Type: application/json.',
        target: 'Content-Type',
      });
  });

  it('answers 400 InvalidJson with the line and column of the mistake', () => {
    expect(errorOf(readJsonBody(bytes('{"table": "account",}'), null, 'publishEvent'))).toEqual({
      status: 400,
      code: 'InvalidJson',
      message: 'The body is not valid JSON: unexpected character "}" at line 1, column 21 (position 20).',
      target: 'body',
    });
    expect(errorOf(readJsonBody(bytes('{\n  "a": tru\n}'), null, 'publishEvent')).message).toBe(
      'The body is not valid JSON: unexpected character "t" at line 2, column 8 (position 9).',
    );
    expect(errorOf(readJsonBody(bytes('{"a": "b'), null, 'publishEvent')).message).toContain(
      'unexpected end of the body at line 1, column 9',
    );
    expect(errorOf(readJsonBody(bytes('{"a": 1} 2'), null, 'publishEvent')).message).toContain('line 1, column 10');
    expect(errorOf(readJsonBody(bytes('   '), null, 'publishEvent')).message).toBe(
      'The body is empty; send a JSON object.',
    );
    expect(errorOf(readJsonBody(new Uint8Array([0x7b, 0xff, 0x7d]), null, 'publishEvent')).message).toBe(
      'The body is not valid UTF-8 text; send JSON encoded as UTF-8.',
    );
  });

  it('answers 400 InvalidBody naming the first field that does not match, with its path as target', () => {
    const cases: [string, unknown, string, RegExp][] = [
      ['publishEvent', [EVENT], 'body', /^The body must be an object\.$/],
      ['publishEvent', { table: 'account', message: 'Update' }, 'rowId', /^rowId is required\. The id \(a GUID\)/],
      ['publishEvent', { ...EVENT, rowId: 'row-1' }, 'rowId', /^rowId must be a GUID, e\.g\. /],
      ['publishEvent', { ...EVENT, table: 'my table' }, 'table', /^table is not valid: the logical name of the table/],
      ['publishEvent', { ...EVENT, message: 7 }, 'message', /^message must be a string\.$/],
      ['publishEvent', { ...EVENT, attributes: ['name'] }, 'attributes', /^attributes must be an object\.$/],
      [
        'publishEvent',
        { ...EVENT, tableName: 'account' },
        'tableName',
        /^tableName is not a field of the body; the fields are table, rowId, message, attributes, idempotencyKey\.$/,
      ],
      ['publishEvent', { ...EVENT, idempotencyKey: '' }, 'idempotencyKey', /at least 1 characters long/],
      ['createSubscription', {}, 'callbackUrl', /^callbackUrl is required\./],
      ['createSubscription', { callbackUrl: 'not a url' }, 'callbackUrl', /^callbackUrl must be an absolute URL/],
      [
        'createSubscription',
        { callbackUrl: CALLBACK, secret: 'short' },
        'secret',
        /^secret is not valid: .*16 to 256 characters/,
      ],
      ['createSubscription', { callbackUrl: CALLBACK, messages: ['Create'] }, 'messages', /must be a string/],
    ];
    for (const [name, body, target, message] of cases) {
      const error = errorOf(readJsonBody(json(body), 'application/json', name as 'publishEvent'));
      expect(error, JSON.stringify(body)).toMatchObject({ status: 400, code: 'InvalidBody', target });
      expect(error.message, JSON.stringify(body)).toMatch(message);
    }
  });

  it('never echoes a value of the body in its messages', () => {
    const bodies = [
      bytes(`{"callbackUrl": "${CALLBACK}", "secret": "s3cret-SIGSECRET"`), // cut short: InvalidJson
      json({ callbackUrl: CALLBACK, secret: 'SIGSECRET' }), // too short: InvalidBody
      json({ callbackUrl: `${CALLBACK} x` }), // not a URL
    ];
    for (const body of bodies) {
      const error = errorOf(readJsonBody(body, 'application/json', 'createSubscription'));
      expect(JSON.stringify(error)).not.toContain('SIGSECRET');
    }
  });

  it('refuses to read a body for an operation that declares none', () => {
    expect(() => readJsonBody(json({}), null, 'listTables')).toThrow(
      'The listTables operation declares no request body.',
    );
  });
});
