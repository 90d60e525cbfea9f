import { describe, expect, it } from 'vitest';
import { bodyBytes, serviceBusMessages } from '../../shared/pipeline/inbound.js';
import { replayableTransport } from '../../shared/pipeline/ingest.js';

const ORG = 'http://schemas.microsoft.com/xrm/2011/Claims/Organization';

describe('serviceBusMessages: the shapes the Functions host passes', () => {
  it('pairs a cardinality-many batch with its metadata arrays', () => {
    const bodies = [Buffer.from('{"a":1}'), Buffer.from('{"b":2}')];
    const messages = serviceBusMessages(
      bodies,
      {
        messageIdArray: ['m1', 'm2'],
        deliveryCountArray: [1, 3],
        contentTypeArray: ['application/json', 'application/msbin1'],
        // The library camelCases keys; URI keys start lower-case already.
        applicationPropertiesArray: [{ [ORG]: 'contoso.crm.dynamics.com' }, { messageMaxSizeExceeded: true }],
      },
      'queue',
    );
    expect(messages).toEqual([
      {
        body: bodies[0],
        source: 'queue',
        messageId: 'm1',
        deliveryCount: 1,
        transport: { contentType: 'application/json', applicationProperties: { [ORG]: 'contoso.crm.dynamics.com' } },
      },
      {
        body: bodies[1],
        source: 'queue',
        messageId: 'm2',
        deliveryCount: 3,
        transport: { contentType: 'application/msbin1', applicationProperties: { messageMaxSizeExceeded: true } },
      },
    ]);
  });

  it('reads older userPropertiesArray, JSON-string properties and string delivery counts', () => {
    const [message] = serviceBusMessages(
      ['x'],
      { userPropertiesArray: [JSON.stringify({ [ORG]: 'o' })], deliveryCountArray: ['2'], messageIdArray: ['m'] },
      'topic',
    );
    expect(message?.transport.applicationProperties).toEqual({ [ORG]: 'o' });
    expect(message?.deliveryCount).toBe(2);
    expect(message?.source).toBe('topic');
  });

  it('reads a single message (cardinality one) with singular metadata names', () => {
    const [message] = serviceBusMessages(
      { parsed: true },
      { messageId: 'm', deliveryCount: 1, contentType: 'application/json' },
      'queue',
    );
    expect(message).toMatchObject({ body: { parsed: true }, messageId: 'm', deliveryCount: 1 });
  });

  it('tolerates missing metadata', () => {
    expect(serviceBusMessages(['a', 'b'], undefined, 'queue').map((m) => m.messageId)).toEqual([undefined, undefined]);
  });
});

describe('bodyBytes', () => {
  it('keeps bytes as they are and encodes text and parsed JSON as UTF-8', () => {
    const bytes = Buffer.from([1, 2, 3]);
    expect(bodyBytes(bytes)).toBe(bytes);
    expect(bodyBytes(new Uint8Array([1, 2])).equals(Buffer.from([1, 2]))).toBe(true);
    expect(bodyBytes('é').equals(Buffer.from('é'))).toBe(true);
    expect(bodyBytes({ a: 1 }).toString()).toBe('{"a":1}');
  });
});

describe('replayableTransport', () => {
  it('keeps the content type and Dataverse facts, and nothing that could be a secret', () => {
    const json = replayableTransport({
      contentType: 'application/json',
      applicationProperties: { [ORG]: 'o', MessageMaxSizeExceeded: true, SharedAccessSignature: 'sig=SECRET' },
      headers: {
        'x-ms-dynamics-organization': 'contoso.crm.dynamics.com',
        'x-functions-key': 'SECRET',
        authorization: 'Bearer SECRET',
        'x-ms-dynamics-request-name': 'Update',
      },
    });
    expect(JSON.parse(json)).toEqual({
      contentType: 'application/json',
      applicationProperties: { [ORG]: 'o', MessageMaxSizeExceeded: true },
      headers: { 'x-ms-dynamics-organization': 'contoso.crm.dynamics.com', 'x-ms-dynamics-request-name': 'Update' },
    });
    expect(json).not.toContain('SECRET');
  });
});
