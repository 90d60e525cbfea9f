import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { AzureKeyCredential, EventGridPublisherClient, type SendCloudEventInput } from '@azure/eventgrid';
import { afterEach, describe, expect, it } from 'vitest';
import { type NormalizedContext, readContext } from '../../shared/dataverse/index.js';
import { PublishFailedError } from '../../shared/events/errors.js';
import { EventGridPublisher } from '../../shared/events/eventGridPublisher.js';
import { packEvents, TRACEPARENT_WIRE_BYTES, wireSize } from '../../shared/events/pack.js';
import { type BridgeEvent, EVENT_GRID_LIMITS } from '../../shared/events/types.js';
import { type Fault, type Receiver, startEventGridReceiver } from '../helpers/eventGridReceiver.js';
import { contextBytes, contextNames } from '../helpers/fixtures.js';

const KEY = `test-key-${randomUUID()}`;
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** A BridgeEvent for a normalized context, built by hand as DESIGN.md ("The event") describes it. */
function toEvent(context: NormalizedContext, id: string): BridgeEvent {
  if (context.operationCreatedOn === null) throw new Error(`context ${id} has no operationCreatedOn`);
  return {
    specversion: '1.0',
    id,
    source: `/organizations/${context.organizationId}`,
    type: `dataverse.${context.messageName.toLowerCase()}`,
    subject: `${context.primaryEntityName}/${context.primaryEntityId}`,
    time: context.operationCreatedOn,
    datacontenttype: 'application/json',
    data: context,
  };
}

/** One event per reference context. */
function fixtureEvents(): BridgeEvent[] {
  return contextNames().map((name) => toEvent(readContext(contextBytes(name)), `fixture-${name}`));
}

/** The bytes `events` take as a JSON array, before the SDK touches them. */
function jsonBytes(events: readonly BridgeEvent<unknown>[]): number {
  return Buffer.byteLength(JSON.stringify(events));
}

/** The attribute names of a context's Target row (`[]` when its Target is not a row). */
function targetAttributeNames(context: unknown): string[] {
  const target = (context as NormalizedContext | undefined)?.inputParameters.Target;
  const attributes = (target as { attributes?: object } | null | undefined)?.attributes;
  return Object.keys(attributes ?? {});
}

const receivers: Receiver[] = [];

async function receiver(fault?: (requestIndex: number) => Fault): Promise<Receiver> {
  const started = await startEventGridReceiver({ key: KEY, ...(fault ? { fault } : {}) });
  receivers.push(started);
  return started;
}

afterEach(async () => {
  await Promise.all(receivers.splice(0).map((started) => started.stop()));
});

/** The error `send` rejects with; fails the test if it resolves. */
async function sendError(publisher: EventGridPublisher, events: readonly BridgeEvent<unknown>[]): Promise<unknown> {
  try {
    await publisher.send(events);
  } catch (error) {
    return error;
  }
  throw new Error('send resolved, expected it to fail');
}

describe('EventGridPublisher with the real SDK against a local topic', () => {
  it('delivers real Dataverse contexts intact, in one request, with no wire-format violations', async () => {
    const topic = await receiver();
    const events = fixtureEvents();
    expect(events).toHaveLength(12);

    await new EventGridPublisher({ endpoint: topic.endpoint, key: KEY }).send(events);

    expect(topic.violations).toEqual([]);
    expect(topic.requests).toEqual([
      {
        status: 200,
        events: 12,
        bytes: expect.any(Number),
        contentType: 'application/cloudevents-batch+json; charset=utf-8',
      },
    ]);
    expect(topic.events).toHaveLength(12);
    events.forEach((sent, index) => {
      const received = topic.events[index];
      const { data, ...attributes } = sent;
      expect(received).toStrictEqual({ ...attributes, data: JSON.parse(JSON.stringify(data)) });
      // Every attribute of the Target row arrived, under its original name.
      expect(targetAttributeNames(received?.data)).toEqual(targetAttributeNames(data));
    });
    const withRows = events.filter((event) => targetAttributeNames(event.data).length > 0);
    expect(withRows.length).toBeGreaterThanOrEqual(6);
  });

  it('puts exactly JSON.stringify(events) worth of bytes on the wire when tracing is off', async () => {
    const topic = await receiver();
    const events = fixtureEvents();
    await new EventGridPublisher({ endpoint: topic.endpoint, key: KEY }).send(events);
    // The SDK reorders attributes and re-writes `time` with toISOString (already our form): same length exactly.
    expect(topic.requests[0]?.bytes).toBe(jsonBytes(events));
  });

  it('keeps a full packed batch within 1 MB on the wire even when the SDK adds traceparent to every event', async () => {
    const topic = await receiver();
    const contexts = fixtureEvents();
    const events = Array.from({ length: 200 }, (_, i) => {
      const event = contexts[i % contexts.length] as BridgeEvent;
      return { ...event, id: `${event.id}-${i}` };
    });
    const { batches, tooLarge } = packEvents(events);
    expect(tooLarge).toEqual([]);
    const batch = batches[0] as BridgeEvent[];
    // Full: what is left is too small for any event that went to another request (its wire size and its comma).
    const room = EVENT_GRID_LIMITS.maxRequestBytes - (jsonBytes(batch) + batch.length * TRACEPARENT_WIRE_BYTES);
    expect(room).toBeGreaterThanOrEqual(0);
    expect(room).toBeLessThan(
      Math.min(
        ...batches
          .slice(1)
          .flat()
          .map((event) => wireSize(event) + 1),
      ),
    );

    // The publisher offers no way to inject a trace header, so use the SDK directly, as an active OpenTelemetry
    // instrumenter would: its tracing policy sets the header, and the SDK copies it into every event.
    const client = new EventGridPublisherClient(topic.endpoint, 'CloudEvent', new AzureKeyCredential(KEY), {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
    });
    const input = batch.map(
      ({ id, source, type, subject, time, datacontenttype, data }): SendCloudEventInput<unknown> => ({
        ...{ id, source, type, subject, datacontenttype, data },
        time: new Date(time),
      }),
    );
    await client.send(input, { requestOptions: { customHeaders: { traceparent: TRACEPARENT } } });

    expect(topic.violations).toEqual([]);
    expect(topic.events.map((event) => event.traceparent)).toEqual(batch.map(() => TRACEPARENT));
    expect(topic.requests[0]?.bytes).toBe(jsonBytes(batch) + batch.length * TRACEPARENT_WIRE_BYTES);
    expect(topic.requests[0]?.bytes).toBeLessThanOrEqual(EVENT_GRID_LIMITS.maxRequestBytes);
  });

  it('makes no request for no events', async () => {
    const topic = await receiver();
    await new EventGridPublisher({ endpoint: topic.endpoint, key: KEY }).send([]);
    expect(topic.requests).toEqual([]);
  });

  it.each([
    [500, 500],
    [429, 429],
  ] as const)('fails with PublishFailedError when the topic answers %s', async (fault, statusCode) => {
    const topic = await receiver(() => fault);
    const error = await sendError(new EventGridPublisher({ endpoint: topic.endpoint, key: KEY }, { maxRetries: 0 }), [
      ...fixtureEvents().slice(0, 2),
    ]);
    expect(error).toBeInstanceOf(PublishFailedError);
    expect(error).toMatchObject({ statusCode, code: 'PublishFailed', transient: true });
    expect((error as Error).message).toMatch(
      new RegExp(`^Event Grid did not accept the publish request \\(HTTP ${statusCode}\\): \\S`),
    );
    expect(topic.requests.map((request) => request.status)).toEqual([statusCode]);
    expect(topic.events).toEqual([]);
  });

  it('fails with PublishFailedError soon after the timeout when the topic never answers, retries included', async () => {
    const topic = await receiver(() => 'hang');
    const publisher = new EventGridPublisher({ endpoint: topic.endpoint, key: KEY }, { timeoutMs: 300, maxRetries: 3 });
    const started = performance.now();
    const error = await sendError(publisher, fixtureEvents().slice(0, 1));
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(PublishFailedError);
    expect(error).toMatchObject({ statusCode: undefined });
    expect((error as Error).message).toContain('no answer within 300 ms');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1_500);
    expect(topic.events).toEqual([]);
  });

  it('fails with PublishFailedError when the connection is dropped', async () => {
    const topic = await receiver(() => 'drop');
    const error = await sendError(
      new EventGridPublisher({ endpoint: topic.endpoint, key: KEY }, { maxRetries: 0 }),
      fixtureEvents().slice(0, 1),
    );
    expect(error).toBeInstanceOf(PublishFailedError);
    expect((error as Error).message).toContain('ECONNRESET');
    expect(topic.requests).toHaveLength(1);
    expect(topic.events).toEqual([]);
  });

  it('fails with PublishFailedError when nothing listens on the endpoint', async () => {
    const topic = await receiver();
    await topic.stop();
    const error = await sendError(
      new EventGridPublisher({ endpoint: topic.endpoint, key: KEY }, { maxRetries: 0 }),
      fixtureEvents().slice(0, 1),
    );
    expect(error).toBeInstanceOf(PublishFailedError);
    expect((error as Error).message).toContain('ECONNREFUSED');
  });

  it('fails with a 401 PublishFailedError for a wrong key, without the key anywhere in the error', async () => {
    const topic = await receiver();
    const wrongKey = `wrong-key-${randomUUID()}`;
    const error = await sendError(
      new EventGridPublisher({ endpoint: topic.endpoint, key: wrongKey }, { maxRetries: 0 }),
      fixtureEvents().slice(0, 1),
    );
    expect(error).toBeInstanceOf(PublishFailedError);
    const failed = error as PublishFailedError;
    expect(failed.statusCode).toBe(401);
    expect(failed.message).toContain('EVENTGRID_TOPIC_KEY');
    expect(failed.cause).toBeUndefined();
    const renderings = [
      failed.message,
      String(failed.stack),
      JSON.stringify(failed),
      inspect(failed, { depth: 10, showHidden: true }),
    ];
    for (const text of renderings) {
      expect(text).not.toContain(wrongKey);
      expect(text).not.toContain(KEY);
    }
    expect(topic.requests.map((request) => request.status)).toEqual([401]);
    expect(topic.violations).toEqual([]);
    expect(topic.events).toEqual([]);
  });

  it.each([500, 429] as const)(
    'succeeds through the SDK retry when only the first request fails with %s',
    async (fault) => {
      const topic = await receiver((index) => (index === 0 ? fault : 'ok'));
      const events = fixtureEvents().slice(0, 3);
      await new EventGridPublisher({ endpoint: topic.endpoint, key: KEY }, { maxRetries: 2 }).send(events);
      expect(topic.requests.map((request) => request.status)).toEqual([fault, 200]);
      expect(topic.events.map((event) => event.id)).toEqual(events.map((event) => event.id));
      expect(topic.violations).toEqual([]);
    },
  );

  it('waits for a slow topic within the timeout', async () => {
    const topic = await receiver(() => ({ delayMs: 150 }));
    const events = fixtureEvents().slice(0, 2);
    await new EventGridPublisher({ endpoint: topic.endpoint, key: KEY }, { timeoutMs: 5_000 }).send(events);
    expect(topic.events.map((event) => event.id)).toEqual(events.map((event) => event.id));
  });

  it('may have delivered the events when it times out, which is why retries rely on deduplication', async () => {
    const topic = await receiver(() => ({ delayMs: 400 }));
    const events = fixtureEvents().slice(0, 1);
    const publisher = new EventGridPublisher({ endpoint: topic.endpoint, key: KEY }, { timeoutMs: 150, maxRetries: 0 });
    expect(await sendError(publisher, events)).toBeInstanceOf(PublishFailedError);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(topic.events.map((event) => event.id)).toEqual(events.map((event) => event.id));
  });

  it('reuses one client across sends', async () => {
    const topic = await receiver();
    const publisher = new EventGridPublisher({ endpoint: topic.endpoint, key: KEY });
    const [first, second] = fixtureEvents();
    await publisher.send([first as BridgeEvent]);
    await publisher.send([second as BridgeEvent]);
    expect(topic.requests.map((request) => request.events)).toEqual([1, 1]);
    expect(topic.events.map((event) => event.id)).toEqual([first?.id, second?.id]);
  });

  it('refuses data the SDK would mangle, and an unparseable time, before making a request', async () => {
    const topic = await receiver();
    const publisher = new EventGridPublisher({ endpoint: topic.endpoint, key: KEY });
    const [event] = fixtureEvents() as [BridgeEvent];
    await expect(publisher.send([{ ...event, data: [1, 2] }])).rejects.toThrow(/data must be a JSON object/);
    await expect(publisher.send([{ ...event, data: 'text' }])).rejects.toThrow(/data must be a JSON object/);
    await expect(publisher.send([{ ...event, time: 'yesterday' }])).rejects.toThrow(/is not a date/);
    expect(topic.requests).toEqual([]);
  });
});

describe('the local topic', () => {
  it('records wire-format violations and refuses the request, as Event Grid would', async () => {
    const topic = await receiver();
    const response = await fetch(topic.endpoint, {
      method: 'POST',
      headers: { 'aeg-sas-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify([{ specversion: '0.3', id: '', source: 's', type: 't', time: 'yesterday', Data: 1 }]),
    });
    expect(response.status).toBe(400);
    expect(topic.violations).toEqual([
      'request #0: query has no api-version',
      'request #0: content-type is application/json, expected application/cloudevents-batch+json; charset=utf-8',
      'request #0: event [0] has specversion "0.3"',
      'request #0: event [0] has no id (non-empty string)',
      'request #0: event [0] has time "yesterday", not an RFC 3339 date',
      'request #0: event [0] has attribute "Data" (not a-z0-9)',
    ]);
    expect(topic.events).toEqual([]);
  });

  it('answers 401 to a wrong key without calling it a violation', async () => {
    const topic = await receiver();
    const response = await fetch(`${topic.endpoint}?api-version=2018-01-01`, { method: 'POST', body: '[]' });
    expect(response.status).toBe(401);
    expect(topic.requests).toMatchObject([{ status: 401 }]);
    expect(topic.violations).toEqual([]);
  });
});
