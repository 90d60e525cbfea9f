import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readContext } from '../../shared/dataverse/index.js';
import type { NormalizedContext } from '../../shared/dataverse/types.js';
import { TransientError } from '../../shared/errors.js';
import { eventIdFor } from '../../shared/events/eventId.js';
import { toCloudEvent } from '../../shared/events/toCloudEvent.js';
import type { BridgeEvent } from '../../shared/events/types.js';
import { jobKeyForContext } from '../../shared/pipeline/jobKey.js';
import { openStorage } from '../../shared/store/connect.js';
import { StorageUnavailableError } from '../../shared/store/errors.js';
import { TableDeliveryLog } from '../../shared/store/tableDeliveryLog.js';
import { TableSubscriptionStore } from '../../shared/store/tableSubscriptionStore.js';
import { HttpCallbackSender } from '../../shared/subscriptions/callbackSender.js';
import { type DeliveryDeps, DeliveryFailedError, deliverEvent } from '../../shared/subscriptions/deliver.js';
import { verifySignature } from '../../shared/subscriptions/signature.js';
import type { NewSubscription, SubscriptionFilters } from '../../shared/subscriptions/types.js';
import { testAzurite } from '../helpers/azurite.js';
import { entity, kv, ROW_ID, rawContext, typed } from '../helpers/contexts.js';
import { contextBytes } from '../helpers/fixtures.js';

const azurite = testAzurite();

interface Delivery {
  headers: IncomingMessage['headers'];
  body: Buffer;
  url: string;
}

/** A local callback receiver: records every delivery and answers `status` (changeable), or never answers. */
async function startReceiver(initial: number | 'hang' = 200) {
  const deliveries: Delivery[] = [];
  let answer = initial;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      deliveries.push({ headers: request.headers, body: Buffer.concat(chunks), url: request.url ?? '' });
      if (answer !== 'hang') response.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    deliveries,
    callbackUrl: `http://127.0.0.1:${port}/workflows/flow/invoke?api-version=1&sig=QUERY-SECRET-${port}`,
    answer(status: number | 'hang') {
      answer = status;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(initial: number | 'hang' = 200): Promise<Receiver> {
  const started = await startReceiver(initial);
  cleanups.push(started.stop);
  return started;
}

/** Real stores on fresh tables in Azurite and the real sender, in local mode (http to 127.0.0.1 is allowed). */
function harness(overrides: Partial<DeliveryDeps> = {}) {
  const storage = openStorage({
    kind: 'connectionString',
    connectionString: azurite.connectionString,
    prefix: `t${randomUUID().replaceAll('-', '').slice(0, 12)}`,
  });
  const sender = new HttpCallbackSender({ localMode: true });
  cleanups.push(() => sender.close());
  const lines: string[] = [];
  const record = (...args: unknown[]) => lines.push(args.map(String).join(' '));
  const deps: DeliveryDeps = {
    subscriptions: new TableSubscriptionStore(storage.table(storage.names.subscriptions)),
    deliveries: new TableDeliveryLog(storage.table(storage.names.deliveries)),
    sender,
    unhealthyAfter: 3,
    timeoutMs: 5_000,
    localMode: true,
    log: { log: record, warn: record, error: record },
    ...overrides,
  };
  const subscribe = async (target: Receiver, filters: Partial<SubscriptionFilters> = {}, secret = randomSecret()) => {
    const fields: NewSubscription = {
      id: randomBytes(16).toString('hex'),
      callbackUrl: target.callbackUrl,
      secret,
      deleteTokenHash: 'cd'.repeat(32),
      createdAt: new Date().toISOString(),
      tables: [],
      messages: [],
      columns: [],
      ...filters,
    };
    return deps.subscriptions.create(fields);
  };
  return { deps, lines, subscribe };
}

const randomSecret = () => randomBytes(24).toString('base64url');

/** The CloudEvent the pipeline publishes for a context, as the Event Grid trigger hands it over (through JSON). */
function eventFor(context: NormalizedContext, bytes: Uint8Array): BridgeEvent {
  const event = toCloudEvent(context, eventIdFor(jobKeyForContext(context, bytes)), new Date());
  return JSON.parse(JSON.stringify(event)) as BridgeEvent;
}

/** The real sample: an Update of a contact that set firstname. */
function contactUpdate(): BridgeEvent {
  const bytes = contextBytes('msdocs-usewebhooks-update-contact.json');
  return eventFor(readContext(bytes), bytes);
}

/** A hand-made context for `message` of a contact setting `attributes`, with its own operation id. */
function contactEvent(message: string, attributes: Record<string, unknown>): BridgeEvent {
  const bytes = Buffer.from(
    JSON.stringify(
      rawContext({
        MessageName: message,
        OperationId: randomUUID(),
        InputParameters: kv({ Target: typed('Entity', entity('contact', ROW_ID, attributes)) }),
      }),
    ),
  );
  return eventFor(readContext(bytes), bytes);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the delivery to fail');
}

describe('deliverEvent: filters', () => {
  it('delivers to the subscriptions whose table, message and column filters select the event', async () => {
    const { deps, subscribe } = harness();
    const r = {
      any: await receiver(),
      contact: await receiver(),
      account: await receiver(),
      create: await receiver(),
      firstname: await receiver(),
      telephone: await receiver(),
    };
    await subscribe(r.any);
    await subscribe(r.contact, { tables: ['Contact'] });
    await subscribe(r.account, { tables: ['account'] });
    await subscribe(r.create, { messages: ['Create'] });
    await subscribe(r.firstname, { tables: ['contact'], messages: ['Update'], columns: ['firstname'] });
    await subscribe(r.telephone, { columns: ['telephone1'] });

    const update = contactUpdate();
    expect(await deliverEvent(update, deps)).toEqual({ matched: 3, delivered: 3, skipped: 0, failed: 0 });
    const counts = () => Object.fromEntries(Object.entries(r).map(([name, peer]) => [name, peer.deliveries.length]));
    expect(counts()).toEqual({ any: 1, contact: 1, account: 0, create: 0, firstname: 1, telephone: 0 });

    // Columns filter only Updates: a Create reaches the column-filtered subscriptions too.
    const create = contactEvent('Create', { firstname: 'Ann' });
    expect(await deliverEvent(create, deps)).toEqual({ matched: 4, delivered: 4, skipped: 0, failed: 0 });
    expect(counts()).toEqual({ any: 2, contact: 2, account: 0, create: 1, firstname: 1, telephone: 1 });

    // An Update that set telephone1 reaches the telephone subscription and not the firstname one.
    const phone = contactEvent('Update', { telephone1: '555-0100' });
    expect(await deliverEvent(phone, deps)).toEqual({ matched: 3, delivered: 3, skipped: 0, failed: 0 });
    expect(counts()).toEqual({ any: 3, contact: 3, account: 0, create: 1, firstname: 1, telephone: 2 });
  });

  it('does nothing when no subscription matches', async () => {
    const { deps, subscribe } = harness();
    const peer = await receiver();
    await subscribe(peer, { tables: ['account'] });
    expect(await deliverEvent(contactUpdate(), deps)).toEqual({ matched: 0, delivered: 0, skipped: 0, failed: 0 });
    expect(peer.deliveries).toHaveLength(0);
  });
});

describe('deliverEvent: what a receiver gets', () => {
  it('posts the normalized context, signed with the secret, with the delivery headers', async () => {
    const { deps, subscribe } = harness();
    const peer = await receiver();
    const secret = 'receiver-secret-0123456789';
    const subscription = await subscribe(peer, {}, secret);
    const event = contactUpdate();
    await deliverEvent(event, deps);

    const [delivery] = peer.deliveries;
    if (!delivery) throw new Error('no delivery');
    expect(JSON.parse(delivery.body.toString('utf8'))).toEqual(event.data);
    expect(delivery.url).toBe(new URL(peer.callbackUrl).pathname + new URL(peer.callbackUrl).search);
    expect(delivery.headers['content-type']).toBe('application/json');
    const signature = delivery.headers['x-bridge-signature-256'] as string;
    expect(signature).toBe(`sha256=${createHmac('sha256', secret).update(delivery.body).digest('hex')}`);
    expect(verifySignature(secret, delivery.body, signature)).toBe(true);
    expect(verifySignature('another-secret-0123456789', delivery.body, signature)).toBe(false);
    expect(delivery.headers['x-bridge-event-id']).toBe(event.id);
    expect(delivery.headers['x-bridge-event-type']).toBe('dataverse.update');
    expect(delivery.headers['x-bridge-subscription-id']).toBe(subscription.id);
    expect(delivery.headers['x-bridge-delivery-id']).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('gives each subscription its own delivery id, and each event its own', async () => {
    const { deps, subscribe } = harness();
    const [a, b] = [await receiver(), await receiver()];
    await subscribe(a);
    await subscribe(b);
    await deliverEvent(contactUpdate(), deps);
    await deliverEvent(contactEvent('Create', {}), deps);
    const ids = [...a.deliveries, ...b.deliveries].map((d) => d.headers['x-bridge-delivery-id']);
    expect(new Set(ids).size).toBe(4);
  });
});

describe('deliverEvent: retries', () => {
  it('fails the invocation when a healthy callback fails, and the retry calls only that one, same delivery id', async () => {
    const { deps, subscribe, lines } = harness();
    const [ok, broken] = [await receiver(200), await receiver(500)];
    await subscribe(ok);
    const brokenSubscription = await subscribe(broken);
    const event = contactUpdate();

    const error = await failure(deliverEvent(event, deps));
    expect(error).toBeInstanceOf(DeliveryFailedError);
    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toContain('1 of 2');
    expect(error.message).not.toContain('127.0.0.1');
    expect(error.message).not.toContain('QUERY-SECRET');
    expect([ok.deliveries.length, broken.deliveries.length]).toEqual([1, 1]);

    broken.answer(200);
    expect(await deliverEvent(event, deps)).toEqual({ matched: 2, delivered: 1, skipped: 1, failed: 0 });
    expect([ok.deliveries.length, broken.deliveries.length]).toEqual([1, 2]);
    const [first, second] = broken.deliveries.map((d) => d.headers['x-bridge-delivery-id']);
    expect(second).toBe(first);
    expect(broken.deliveries[1]?.body.equals(broken.deliveries[0]?.body as Buffer)).toBe(true);

    // A third delivery of the event (Event Grid delivers at least once) calls nobody.
    expect(await deliverEvent(event, deps)).toEqual({ matched: 2, delivered: 0, skipped: 2, failed: 0 });
    expect((await deps.subscriptions.get(brokenSubscription.id))?.consecutiveFailures).toBe(0);
    expect(lines.join('\n')).not.toContain('QUERY-SECRET');
  });

  it('records a timeout as a failure with code Timeout', async () => {
    const { deps, subscribe } = harness({ timeoutMs: 300 });
    const peer = await receiver('hang');
    const subscription = await subscribe(peer);
    const event = contactUpdate();
    await failure(deliverEvent(event, deps));
    expect((await deps.subscriptions.get(subscription.id))?.lastError).toMatchObject({
      code: 'Timeout',
      eventId: event.id,
    });
  });
});

describe('deliverEvent: health', () => {
  it('marks a subscription unhealthy after N failures in a row, with its last error and no URL query', async () => {
    const { deps, subscribe } = harness({ unhealthyAfter: 3 });
    const peer = await receiver(503);
    const subscription = await subscribe(peer);
    const events = [contactEvent('Update', { firstname: 'A' }), contactEvent('Update', { firstname: 'B' })];
    for (const event of events) await failure(deliverEvent(event, deps));
    expect(await deps.subscriptions.get(subscription.id)).toMatchObject({ health: 'healthy', consecutiveFailures: 2 });

    const third = contactEvent('Update', { firstname: 'C' });
    // It was healthy when this delivery started, so this failure still fails the invocation.
    await failure(deliverEvent(third, deps));
    const stored = (await deps.subscriptions.list()).find((s) => s.id === subscription.id);
    expect(stored).toMatchObject({
      health: 'unhealthy',
      consecutiveFailures: 3,
      lastError: { code: 'HttpStatus', status: 503, eventId: third.id, message: 'The callback answered HTTP 503.' },
    });
    expect(Number.isNaN(Date.parse(stored?.lastError?.at ?? ''))).toBe(false);
    expect(JSON.stringify(stored?.lastError)).not.toContain('QUERY-SECRET');
    expect(JSON.stringify(stored?.lastError)).not.toContain('127.0.0.1');
  });

  it("does not fail the invocation for an unhealthy subscription's failure, and a later success heals it", async () => {
    const { deps, subscribe } = harness({ unhealthyAfter: 1 });
    const peer = await receiver(500);
    const subscription = await subscribe(peer);
    await failure(deliverEvent(contactEvent('Update', { firstname: 'A' }), deps));
    expect((await deps.subscriptions.get(subscription.id))?.health).toBe('unhealthy');

    // Still attempted, still failing, but the event is done.
    const next = contactEvent('Update', { firstname: 'B' });
    expect(await deliverEvent(next, deps)).toEqual({ matched: 1, delivered: 0, skipped: 0, failed: 1 });
    expect(peer.deliveries).toHaveLength(2);
    expect(await deps.subscriptions.get(subscription.id)).toMatchObject({
      health: 'unhealthy',
      consecutiveFailures: 2,
    });

    peer.answer(200);
    const later = contactEvent('Update', { firstname: 'C' });
    expect(await deliverEvent(later, deps)).toEqual({ matched: 1, delivered: 1, skipped: 0, failed: 0 });
    const healed = await deps.subscriptions.get(subscription.id);
    expect(healed).toMatchObject({ health: 'healthy', consecutiveFailures: 0 });
    expect(healed?.lastDeliveredAt).toEqual(expect.any(String));
  });

  it('attempts an unhealthy subscription once per event, even when a healthy one makes the event retry', async () => {
    const { deps, subscribe } = harness({ unhealthyAfter: 1 });
    const dead = await receiver(500);
    const deadSubscription = await subscribe(dead);
    await failure(deliverEvent(contactEvent('Update', { firstname: 'A' }), deps));
    expect((await deps.subscriptions.get(deadSubscription.id))?.health).toBe('unhealthy');

    const healthyButFailing = await receiver(500);
    await subscribe(healthyButFailing);
    const event = contactEvent('Update', { firstname: 'B' });
    await failure(deliverEvent(event, deps)); // the healthy one failed
    expect([dead.deliveries.length, healthyButFailing.deliveries.length]).toEqual([2, 1]);

    healthyButFailing.answer(200);
    expect(await deliverEvent(event, deps)).toEqual({ matched: 2, delivered: 1, skipped: 1, failed: 0 });
    expect([dead.deliveries.length, healthyButFailing.deliveries.length]).toEqual([2, 2]);
  });
});

describe('deliverEvent: refusals and foreign events', () => {
  it('records a callback URL refused in production mode as a failure, without calling it or failing the invocation', async () => {
    const { deps, subscribe } = harness();
    const peer = await receiver();
    const subscription = await subscribe(peer); // created in local mode: http to 127.0.0.1
    const production = { ...deps, localMode: false, sender: new HttpCallbackSender({ localMode: false }) };
    expect(await deliverEvent(contactUpdate(), production)).toEqual({
      matched: 1,
      delivered: 0,
      skipped: 0,
      failed: 1,
    });
    expect(peer.deliveries).toHaveLength(0);
    const stored = await deps.subscriptions.get(subscription.id);
    expect(stored).toMatchObject({ consecutiveFailures: 1, lastError: { code: 'InvalidCallbackUrl' } });
    expect(stored?.lastError?.message).not.toContain('QUERY-SECRET');

    // Its one attempt is spent: a redelivery of the event (another subscription failed) does not count it again.
    expect(await deliverEvent(contactUpdate(), production)).toEqual({
      matched: 1,
      delivered: 0,
      skipped: 1,
      failed: 0,
    });
    expect((await deps.subscriptions.get(subscription.id))?.consecutiveFailures).toBe(1);
  });

  it('reads events delivered in the Event Grid schema too (eventType), not only CloudEvents', async () => {
    const { deps, subscribe } = harness();
    const peer = await receiver();
    await subscribe(peer, { messages: ['Update'] });
    const { type, ...event } = contactUpdate();
    const eventGridSchema = { ...event, eventType: type, dataVersion: '1.0' };
    expect(await deliverEvent(eventGridSchema, deps)).toMatchObject({ matched: 1, delivered: 1 });
    expect(peer.deliveries[0]?.headers['x-bridge-event-type']).toBe('dataverse.update');
  });

  it('ignores events that are not Dataverse Bridge events', async () => {
    const { deps, subscribe, lines } = harness();
    const peer = await receiver();
    await subscribe(peer);
    const ours = contactUpdate();
    const foreign: unknown[] = [
      { ...ours, type: 'Microsoft.Storage.BlobCreated' },
      { ...ours, type: undefined },
      { ...ours, data: { hello: 'world' } },
      { ...ours, data: null },
      { ...ours, id: undefined },
      'not an event',
      null,
    ];
    for (const event of foreign) {
      expect(await deliverEvent(event, deps)).toEqual({ matched: 0, delivered: 0, skipped: 0, failed: 0 });
    }
    expect(peer.deliveries).toHaveLength(0);
    expect(lines.filter((line) => line.startsWith('Ignored'))).toHaveLength(foreign.length);
  });
});

describe('deliverEvent: storage failures (injected)', () => {
  it('fails with the storage error when a delivery cannot be logged, after every callback ran', async () => {
    const { deps, subscribe } = harness();
    const [a, b] = [await receiver(), await receiver()];
    await subscribe(a);
    await subscribe(b);
    const down = new StorageUnavailableError('record delivery', 'table deliveries');
    const broken: DeliveryDeps = {
      ...deps,
      deliveries: { served: (id) => deps.deliveries.served(id), markServed: async () => Promise.reject(down) },
    };
    expect(await failure(deliverEvent(contactUpdate(), broken))).toBe(down);
    expect([a.deliveries.length, b.deliveries.length]).toEqual([1, 1]);
  });

  it('counts a delivery whose health update failed as delivered, and logs it', async () => {
    const { deps, subscribe, lines } = harness();
    const peer = await receiver();
    await subscribe(peer);
    const store = deps.subscriptions;
    const broken: DeliveryDeps = {
      ...deps,
      subscriptions: {
        create: (fields) => store.create(fields),
        get: (id) => store.get(id),
        list: () => store.list(),
        delete: (id) => store.delete(id),
        recordFailure: (id, error, after) => store.recordFailure(id, error, after),
        recordSuccess: async () => Promise.reject(new StorageUnavailableError('record success', 'table subscriptions')),
      },
    };
    expect(await deliverEvent(contactUpdate(), broken)).toEqual({ matched: 1, delivered: 1, skipped: 0, failed: 0 });
    expect(lines.some((line) => line.includes('was delivered, but its health could not be updated'))).toBe(true);
  });
});
