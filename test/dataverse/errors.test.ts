import { describe, expect, it } from 'vitest';
import { ContextFormatError, MAX_NESTING, readContext } from '../../shared/dataverse/index.js';
import { PermanentError } from '../../shared/errors.js';
import { entity, kv, ROW_ID, rawContext, typed } from '../helpers/contexts.js';

/** Runs readContext and returns the ContextFormatError it must throw. */
function failure(...args: Parameters<typeof readContext>): ContextFormatError {
  try {
    readContext(...args);
  } catch (error) {
    expect(error).toBeInstanceOf(ContextFormatError);
    expect(error).toBeInstanceOf(PermanentError);
    return error as ContextFormatError;
  }
  throw new Error('readContext accepted input it should have refused');
}

describe('readContext refuses bad input with one typed, permanent error', () => {
  it('explains the .NET binary format and how to fix the service endpoint', () => {
    const error = failure(Buffer.from([0x40, 0x03, 0x61, 0x62, 0x63, 0x01]), { contentType: 'application/msbin1' });
    expect(error.code).toBe('UnsupportedMessageFormat');
    expect(error.message).toContain('application/msbin1');
    expect(error.message).toContain('Message Format');
    expect(error.transient).toBe(false);
  });

  it('recognizes binary bytes even without a content type', () => {
    const error = failure(Buffer.from([0x40, 0x03, 0x61, 0xff, 0xfe, 0x01]));
    expect(error.code).toBe('InvalidEncoding');
    expect(error.message).toContain('binary');
    expect(error.hint).toContain('Message Format');
  });

  it('refuses the XML message format by content type and by content', () => {
    const xml = '<RemoteExecutionContext xmlns="http://schemas.microsoft.com/xrm/2011/Contracts"/>';
    expect(failure(xml, { contentType: 'application/xml' }).code).toBe('UnsupportedMessageFormat');
    const sniffed = failure(`  ${xml}`);
    expect(sniffed.code).toBe('UnsupportedMessageFormat');
    expect(sniffed.message).toContain('Message Format');
  });

  it('says where JSON breaks, and calls a cut-off body truncated', () => {
    const text = JSON.stringify(rawContext(), null, 2);
    const truncated = failure(text.slice(0, text.length / 2));
    expect(truncated.code).toBe('NotJson');
    expect(truncated.message).toContain('truncated');
    const broken = failure('{\n  "MessageName": "Update",\n  oops\n}');
    expect(broken.code).toBe('NotJson');
    expect(broken.path).toBe('line 3, column 3');
  });

  it('refuses an empty body and one that is only whitespace', () => {
    expect(failure('').code).toBe('EmptyBody');
    expect(failure(Buffer.from(' \r\n')).code).toBe('EmptyBody');
  });

  it('names the first invalid byte of a body that is not UTF-8', () => {
    const bytes = Buffer.concat([Buffer.from('{"MessageName":"Upd'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const error = failure(bytes);
    expect(error.code).toBe('InvalidEncoding');
    expect(error.path).toBe('byte 19');
  });

  it('refuses an unknown charset', () => {
    const error = failure(Buffer.from('{}'), { contentType: 'application/json; charset=klingon' });
    expect(error.code).toBe('InvalidEncoding');
    expect(error.message).toContain('klingon');
  });

  it('refuses JSON that is not an execution context', () => {
    expect(failure('[1, 2]').message).toContain('got an array');
    expect(failure('"hello"').code).toBe('NotAContext');
    const other = failure('{"value": []}');
    expect(other.code).toBe('NotAContext');
    expect(other.message).toContain('MessageName is missing');
  });

  it('names the missing required property', () => {
    const body = rawContext();
    delete body.OrganizationId;
    const error = failure(JSON.stringify(body));
    expect(error.code).toBe('InvalidValue');
    expect(error.path).toBe('$.OrganizationId');
    expect(error.message).toContain('OrganizationId is missing');
  });

  it('gives the JSON path of a wrong type deep inside', () => {
    const target = typed(
      'Entity',
      entity('contact', ROW_ID, { firstname: 'James', statuscode: typed('OptionSetValue', { Value: 'one' }) }),
    );
    const error = failure(JSON.stringify(rawContext({ InputParameters: kv({ Target: target }) })));
    expect(error.path).toBe('$.InputParameters[0].value.Attributes[1].value.Value');
    expect(error.message).toContain('OptionSetValue.Value must be a number, got the string "one"');
  });

  it('refuses wrong types at the top level', () => {
    expect(failure(JSON.stringify(rawContext({ Stage: '40' }))).path).toBe('$.Stage');
    expect(failure(JSON.stringify(rawContext({ InputParameters: { Target: 1 } }))).message).toContain(
      'Expected an array of {"key", "value"} pairs',
    );
    expect(failure(JSON.stringify(rawContext({ PrimaryEntityId: 'not-a-guid' }))).message).toContain('GUID');
    expect(failure(JSON.stringify(rawContext({ OperationCreatedOn: 'yesterday' }))).path).toBe('$.OperationCreatedOn');
    expect(failure(JSON.stringify(rawContext({ IsInTransaction: 'no' }))).path).toBe('$.IsInTransaction');
  });

  it('refuses a malformed key/value pair', () => {
    const error = failure(JSON.stringify(rawContext({ SharedVariables: [{ key: 'a', value: 1 }, { name: 'b' }] })));
    expect(error.path).toBe('$.SharedVariables[1]');
  });

  it('refuses an image that is not an entity', () => {
    const error = failure(JSON.stringify(rawContext({ PreEntityImages: kv({ Image: 'x' }) })));
    expect(error.path).toBe('$.PreEntityImages[0].value');
    expect(error.message).toContain('Expected an Entity object');
  });

  it('stops at a nesting depth no real context reaches, without exhausting the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_NESTING + 10; i++) deep = [deep];
    const error = failure(JSON.stringify(rawContext({ SharedVariables: kv({ deep }) })));
    expect(error.code).toBe('TooDeep');

    let parents: Record<string, unknown> = rawContext();
    for (let i = 0; i < 100_000; i++) parents = { ...rawContext(), ParentContext: parents };
    expect(failure(parents).code).toBe('TooDeep');
  });

  it('serializes for job records without the stack', () => {
    const error = failure(JSON.stringify(rawContext({ Stage: 'x' })));
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: 'InvalidValue',
      message: 'Stage must be an integer, got the string "x" at $.Stage.',
      transient: false,
      path: '$.Stage',
    });
  });
});
