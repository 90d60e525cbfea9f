/**
 * The ingest pipeline with enrichment on (what `DATAVERSE_URL` turns on): real job and raw stores and change store on
 * Azurite, the real Event Grid client posting to the local receiver, the real Dataverse client against the Dataverse
 * double. Truncated contexts carry the row fetched afterwards; Updates carry previous values and really-changed
 * columns, in and out of order, with and without a pre-image; Dataverse down fails the job and loses nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectChange } from '../../shared/changes/projectChanges.js';
import { readContext } from '../../shared/dataverse/index.js';
import { openDataverse } from '../../shared/dataverseApi/open.js';
import type { DataverseApi } from '../../shared/dataverseApi/types.js';
import type { BridgeSection } from '../../shared/events/bridgeSection.js';
import { eventIdFor } from '../../shared/events/eventId.js';
import { toCloudEvent } from '../../shared/events/toCloudEvent.js';
import type { EnrichDeps } from '../../shared/pipeline/enrich.js';
import type { InboundMessage } from '../../shared/pipeline/inbound.js';
import { ingest } from '../../shared/pipeline/ingest.js';
import { jobKeyForContext } from '../../shared/pipeline/jobKey.js';
import type { TableChangeStore } from '../../shared/store/tableChangeStore.js';
import { DataverseDouble } from '../doubles/dataverse.js';
import { testAzurite } from '../helpers/azurite.js';
import { dataContractJson, entity, kv, rawContext, reference, typed } from '../helpers/contexts.js';
import type { ReceivedCloudEvent } from '../helpers/eventGridReceiver.js';
import { freshChangeStore, type PipelineHarness, startPipeline } from '../helpers/pipeline.js';

const azurite = testAzurite();
const FETCHED_AT = new Date('2026-03-04T05:06:07.000Z');

let dataverse: DataverseDouble;
let api: DataverseApi;
let accountId: string;

beforeAll(async () => {
  dataverse = new DataverseDouble();
  dataverse.seedTable({
    logicalName: 'account',
    primaryNameAttribute: 'name',
    columns: [{ logicalName: 'name', type: 'String' }],
  });
  dataverse.seedTable({
    logicalName: 'contact',
    primaryNameAttribute: 'fullname',
    columns: [
      { logicalName: 'fullname', type: 'String' },
      { logicalName: 'telephone1', type: 'String' },
      { logicalName: 'description', type: 'Memo' },
      { logicalName: 'creditlimit', type: 'Money' },
      { logicalName: 'donotemail', type: 'Boolean' },
      { logicalName: 'parentcustomerid', type: 'Customer', targets: ['account', 'contact'] },
      {
        logicalName: 'preferredcontactmethodcode',
        type: 'Picklist',
        options: [
          { value: 1, label: 'Any' },
          { value: 2, label: 'Email' },
        ],
      },
    ],
  });
  [accountId] = dataverse.seedRows('account', [{ name: 'Contoso' }]) as [string];
  await dataverse.start();
  // No retry budget: a Dataverse fault fails the call at once, as it would once the budget ran out.
  api = await openDataverse({ url: dataverse.url, auth: { kind: 'none' }, timeoutSeconds: 5, retryBudgetSeconds: 0 });
});

afterAll(async () => {
  await dataverse?.stop();
});

interface World {
  pipeline: PipelineHarness;
  store: TableChangeStore;
  enrich: EnrichDeps;
  stop(): Promise<void>;
}

/** Runs `test` against a fresh world (its own prefix and receiver), stopped afterwards. */
async function inWorld(
  test: (w: World) => Promise<void>,
  limits?: { maxEventBytes: number; maxRequestBytes: number },
): Promise<void> {
  const w = await world(limits);
  try {
    await test(w);
  } finally {
    await w.stop();
  }
}

async function world(limits?: { maxEventBytes: number; maxRequestBytes: number }): Promise<World> {
  const pipeline = await startPipeline(azurite, limits ? { limits: { ...limits, maxEventsPerRequest: 5000 } } : {});
  const store = freshChangeStore(azurite);
  const enrich: EnrichDeps = { dataverse: async () => api, rows: store, now: () => FETCHED_AT };
  return { pipeline, store, enrich, stop: () => pipeline.stop() };
}

/** A webhook post of a raw context; `truncated` sets the header Dataverse sets when it dropped the big parts. */
function webhook(raw: Record<string, unknown>, truncated = false): InboundMessage {
  return {
    body: Buffer.from(dataContractJson(raw)),
    source: 'webhook',
    transport: {
      contentType: 'application/json',
      headers: truncated ? { 'x-ms-dynamics-msg-size-exceeded': 'true' } : {},
    },
  };
}

/** An Update of `contact/<id>` at `time` (ms) setting `attributes`, optionally with a pre-image. */
function update(
  id: string,
  time: number,
  attributes: Record<string, unknown>,
  preImage?: Record<string, unknown>,
): Record<string, unknown> {
  return rawContext({
    OperationId: randomUUID(),
    OperationCreatedOn: `/Date(${time})/`,
    PrimaryEntityId: id,
    InputParameters: kv({ Target: typed('Entity', entity('contact', id, attributes)) }),
    PreEntityImages: preImage ? kv({ PreImage: entity('contact', id, preImage) }) : [],
  });
}

/** A truncated context as Dataverse posts it: no input parameters, no images, no parent context. */
function truncated(id: string, message = 'Update'): Record<string, unknown> {
  return rawContext({
    OperationId: randomUUID(),
    MessageName: message,
    PrimaryEntityId: id,
    InputParameters: [],
    PreEntityImages: [],
    PostEntityImages: [],
  });
}

function sectionOf(event: ReceivedCloudEvent | undefined): BridgeSection | undefined {
  return (event?.data as { $bridge?: BridgeSection } | undefined)?.$bridge;
}

/** Ingests one message, projects what was published into the change store (as projectChanges would), returns it. */
async function publishAndProject(w: World, message: InboundMessage): Promise<ReceivedCloudEvent> {
  const before = w.pipeline.receiver.events.length;
  const { outcomes } = await ingest([message], { ...w.pipeline.deps, enrich: w.enrich });
  expect(outcomes[0]?.status).toBe('published');
  const event = w.pipeline.receiver.events[before] as ReceivedCloudEvent;
  expect(await projectChange(event, { store: w.store })).toMatchObject({ status: 'projected' });
  return event;
}

describe('truncated contexts', () => {
  it("carry the row fetched afterwards, in the connector's row shape, marked with when", async () => {
    await inWorld(async (w) => {
      const [id] = dataverse.seedRows('contact', [
        {
          fullname: 'Ada Lovelace',
          telephone1: '555-0100',
          creditlimit: 2500.5,
          donotemail: false,
          _parentcustomerid_value: accountId,
          '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'account',
          preferredcontactmethodcode: 2,
        },
      ]) as [string];
      const message = webhook(truncated(id), true);
      const { outcomes } = await ingest([message], { ...w.pipeline.deps, enrich: w.enrich });
      expect(outcomes[0]?.status).toBe('published');
      const [event] = w.pipeline.receiver.events;
      const data = event?.data as Record<string, unknown>;
      expect(data.messageMaxSizeExceeded).toBe(true);
      expect(data.inputParameters).toEqual({});
      expect(sectionOf(event)).toEqual({
        fetchedRow: {
          fetchedAt: FETCHED_AT.toISOString(),
          table: 'contact',
          id,
          found: true,
          etag: expect.stringMatching(/^W\/"\d+"$/),
          attributes: {
            fullname: 'Ada Lovelace',
            telephone1: '555-0100',
            description: null,
            creditlimit: 2500.5,
            donotemail: false,
            parentcustomerid: { id: accountId, table: 'account', name: 'Contoso' },
            preferredcontactmethodcode: { value: 2, label: 'Email' },
          },
          formattedValues: { donotemail: 'No' },
        },
      });
      // Everything else is the context as Dataverse sent it.
      const context = readContext(message.body as Buffer, message.transport);
      const { $bridge: _section, ...rest } = data;
      expect(rest).toEqual(JSON.parse(JSON.stringify(context)));
      // Read as the application user: no impersonation header.
      expect(dataverse.requests.filter((r) => r.kind === 'retrieve').every((r) => !r.callerObjectId)).toBe(true);
    });
  });

  it('say so when the row was deleted meanwhile, and fetch nothing for a Delete', async () => {
    await inWorld(async (w) => {
      const gone = randomUUID();
      const retrievals = dataverse.count('retrieve');
      const { outcomes } = await ingest(
        [webhook(truncated(gone), true), webhook(truncated(randomUUID(), 'Delete'), true)],
        {
          ...w.pipeline.deps,
          enrich: w.enrich,
        },
      );
      expect(outcomes.map((o) => o.status)).toEqual(['published', 'published']);
      const byRow = new Map(w.pipeline.receiver.events.map((e) => [String(e.subject).split('/')[1], e]));
      expect(sectionOf(byRow.get(gone))).toEqual({
        fetchedRow: { fetchedAt: FETCHED_AT.toISOString(), table: 'contact', id: gone, found: false },
      });
      const deletes = w.pipeline.receiver.events.filter((e) => e.type === 'dataverse.delete');
      expect(deletes).toHaveLength(1);
      expect(sectionOf(deletes[0])).toBeUndefined();
      expect(dataverse.count('retrieve') - retrievals).toBe(1);
    });
  });

  it('fail the job while Dataverse is down, keep its bytes, and publish it once when Dataverse is back', async () => {
    await inWorld(async (w) => {
      const [id] = dataverse.seedRows('contact', [{ fullname: 'Grace Hopper' }]) as [string];
      const message = webhook(truncated(id), true);
      const faults = [
        { kind: 'status', status: 503 },
        { kind: 'drop' },
        { kind: 'throttle', retryAfterSeconds: 30 },
      ] as const;
      for (const fault of faults) {
        dataverse.inject(fault, { times: 1, match: (r) => r.kind === 'retrieve' });
        const first = await ingest([message], { ...w.pipeline.deps, enrich: w.enrich });
        expect(first.retry).toBe(true);
        expect(first.outcomes[0]).toMatchObject({
          status: 'failed',
          error: { code: expect.stringMatching(/^Dataverse/) },
        });
        const job = await w.pipeline.jobs.get(first.outcomes[0]?.jobId ?? '');
        expect(job).toMatchObject({ status: 'failed', raw: { sha256: expect.any(String) } });
        expect(w.pipeline.receiver.events).toHaveLength(0);
      }

      const again = await ingest([message], { ...w.pipeline.deps, enrich: w.enrich });
      expect(again.outcomes[0]?.status).toBe('published');
      expect(sectionOf(w.pipeline.receiver.events[0])?.fetchedRow).toMatchObject({
        found: true,
        attributes: { fullname: 'Grace Hopper' },
      });
      const redelivered = await ingest([message], { ...w.pipeline.deps, enrich: w.enrich });
      expect(redelivered.outcomes[0]?.status).toBe('duplicate');
      expect(w.pipeline.receiver.events).toHaveLength(1);
    });
  });

  it('fail the job when Dataverse does not know the table, rather than calling the row deleted', async () => {
    await inWorld(async (w) => {
      const raw = { ...truncated(randomUUID()), PrimaryEntityName: 'new_unknown' };
      const { outcomes, retry } = await ingest([webhook(raw, true)], { ...w.pipeline.deps, enrich: w.enrich });
      expect(retry).toBe(true);
      expect(outcomes[0]).toMatchObject({ status: 'failed', error: { code: 'DataverseNotFound' } });
      expect(w.pipeline.receiver.events).toHaveLength(0);
    });
  });

  it('leave out the largest fetched values, and name them, when the row would take the event past the size limit', async () => {
    await inWorld(
      async (w) => {
        const [id] = dataverse.seedRows('contact', [{ fullname: 'Big', description: 'x'.repeat(30_000) }]) as [string];
        const { outcomes } = await ingest([webhook(truncated(id), true)], { ...w.pipeline.deps, enrich: w.enrich });
        expect(outcomes[0]?.status).toBe('published');
        const [event] = w.pipeline.receiver.events;
        const section = sectionOf(event);
        expect(section?.omitted).toEqual(['fetchedRow.attributes.description']);
        expect(section?.fetchedRow?.attributes).toMatchObject({ fullname: 'Big' });
        expect(section?.fetchedRow?.attributes).not.toHaveProperty('description');
        expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThan(20_000);
      },
      { maxEventBytes: 20_000, maxRequestBytes: 40_000 },
    );
  });
});

describe('previous values and really-changed columns', () => {
  const T = Date.parse('2026-01-01T10:00:00.000Z');

  it('come from the snapshot for updates in order, and are unknown for an unseen row', async () => {
    await inWorld(async (w) => {
      const id = randomUUID();
      const first = await publishAndProject(w, webhook(update(id, T, { fullname: 'Ada', telephone1: '1' })));
      expect(sectionOf(first)).toEqual({
        previousValues: {},
        previousValueSources: {},
        valueChangedAttributes: [],
        unknownPreviousAttributes: ['fullname', 'telephone1'],
      });
      const lookup = reference('account', accountId.toUpperCase(), 'Contoso');
      const second = await publishAndProject(
        w,
        webhook(update(id, T + 1000, { fullname: 'Ada', telephone1: '2', parentcustomerid: lookup })),
      );
      expect(sectionOf(second)).toEqual({
        previousValues: { fullname: 'Ada', telephone1: '1' },
        previousValueSources: { fullname: 'snapshot', telephone1: 'snapshot' },
        valueChangedAttributes: ['telephone1'],
        unknownPreviousAttributes: ['parentcustomerid'],
      });
      // The same lookup sent again, by id in another case and with another name: not a change.
      const third = await publishAndProject(
        w,
        webhook(update(id, T + 2000, { parentcustomerid: reference('account', accountId, 'Renamed') })),
      );
      expect(sectionOf(third)).toMatchObject({ valueChangedAttributes: [], unknownPreviousAttributes: [] });

      // The change log carries them too.
      const { changes } = await w.store.listChanges('contact', {});
      const logged = changes.find((c) => c.eventId === second.id);
      expect(logged).toMatchObject({
        changedAttributes: ['fullname', 'telephone1', 'parentcustomerid'],
        previousValues: { fullname: 'Ada', telephone1: '1' },
        valueChangedAttributes: ['telephone1'],
        unknownPreviousAttributes: ['parentcustomerid'],
      });
    });
  });

  it('are unknown for a column a newer event already wrote (out of order), unless the pre-image has it', async () => {
    await inWorld(async (w) => {
      const id = randomUUID();
      await publishAndProject(w, webhook(update(id, T, { fullname: 'Ada', telephone1: '1' })));
      // The 12:00 update arrives first, then the 11:00 one.
      await publishAndProject(w, webhook(update(id, T + 2 * 3_600_000, { telephone1: '3' })));
      const late = await publishAndProject(
        w,
        webhook(update(id, T + 3_600_000, { fullname: 'Ada L.', telephone1: '2' })),
      );
      expect(sectionOf(late)).toEqual({
        previousValues: { fullname: 'Ada' },
        previousValueSources: { fullname: 'snapshot' },
        valueChangedAttributes: ['fullname'],
        unknownPreviousAttributes: ['telephone1'],
      });
      // With a pre-image, the previous value is the image's, whatever the snapshot holds.
      const withImage = await publishAndProject(
        w,
        webhook(update(id, T + 3_600_500, { telephone1: '2' }, { telephone1: '2', fullname: 'Ada L.' })),
      );
      expect(sectionOf(withImage)).toEqual({
        previousValues: { telephone1: '2' },
        previousValueSources: { telephone1: 'preImage' },
        valueChangedAttributes: [],
        unknownPreviousAttributes: [],
      });
    });
  });

  it('are not read from the snapshot when the pre-image holds every sent column', async () => {
    await inWorld(async (w) => {
      const id = randomUUID();
      let reads = 0;
      const counting: EnrichDeps = {
        ...w.enrich,
        rows: {
          readRow: (table, row) => {
            reads++;
            return w.store.readRow(table, row);
          },
        },
      };
      const message = webhook(update(id, T, { telephone1: '2' }, { telephone1: '1' }));
      const { outcomes } = await ingest([message], { ...w.pipeline.deps, enrich: counting });
      expect(outcomes[0]?.status).toBe('published');
      expect(sectionOf(w.pipeline.receiver.events[0])).toMatchObject({ valueChangedAttributes: ['telephone1'] });
      expect(reads).toBe(0);
    });
  });
});

describe('a $bridge that came in with the context', () => {
  it('is never published as if the bridge had written it', async () => {
    await inWorld(async (w) => {
      const forged = { fetchedRow: { found: true, attributes: { fullname: 'Forged' } } };
      const create = rawContext({ OperationId: randomUUID(), MessageName: 'Create', PrimaryEntityId: randomUUID() });
      const { outcomes } = await ingest(
        [webhook({ ...create, $bridge: forged }), webhook({ ...truncated(randomUUID()), $bridge: forged }, true)],
        {
          ...w.pipeline.deps,
          enrich: w.enrich,
        },
      );
      expect(outcomes.map((o) => o.status)).toEqual(['published', 'published']);
      const created = w.pipeline.receiver.events.find((e) => e.type === 'dataverse.create');
      expect(created?.data).not.toHaveProperty('$bridge');
      const update = w.pipeline.receiver.events.find((e) => e.type === 'dataverse.update');
      expect(sectionOf(update)?.fetchedRow).toMatchObject({ found: false });
    });
  });
});

describe('without enrichment (DATAVERSE_URL unset)', () => {
  it('publishes exactly the event it published before: no $bridge, no Dataverse request, no snapshot read', async () => {
    await inWorld(async (w) => {
      const requests = dataverse.count();
      const message = webhook(truncated(randomUUID()), true);
      const updateMessage = webhook(update(randomUUID(), T0(), { telephone1: '2' }));
      const { outcomes } = await ingest([message, updateMessage], w.pipeline.deps);
      expect(outcomes.map((o) => o.status)).toEqual(['published', 'published']);
      for (const [index, sent] of [message, updateMessage].entries()) {
        const context = readContext(sent.body as Buffer, sent.transport);
        const expected = toCloudEvent(context, eventIdFor(jobKeyForContext(context, sent.body as Buffer)), new Date());
        const received = w.pipeline.receiver.events.find((e) => e.id === expected.id);
        expect(received, `message ${index}`).toEqual(JSON.parse(JSON.stringify(expected)));
      }
      expect(dataverse.count()).toBe(requests);
    });
  });
});

function T0(): number {
  return Date.parse('2026-01-01T09:00:00.000Z');
}
