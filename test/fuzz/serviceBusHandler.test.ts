/**
 * `handleServiceBusBatch` called in-process with every odd shape a trigger invocation can take: bodies as Buffers,
 * views, ArrayBuffers, strings, parsed JSON, null and undefined; a single message or a batch; trigger metadata
 * missing, of the wrong type, or with `*Array`s shorter or longer than the batch. Against real Azurite stores and a
 * local Event Grid receiver. It must never throw for bad input (Service Bus would redeliver the batch until it is
 * dead-lettered), every bad message must end as a rejected job with its reason and exact bytes, and the good messages
 * of the same batch must be published.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IngestOutcome, IngestResult } from '../../shared/pipeline/ingest.js';
import { handleServiceBusBatch } from '../../shared/pipeline/serviceBus.js';
import { dataContractJson, rawContext } from '../helpers/contexts.js';
import { distinctContexts, ORGANIZATION_PROPERTY } from '../helpers/pipeline.js';
import { pipelineForTests } from '../helpers/pipelineHooks.js';
import { fuzzOptions, PROPERTY_TIMEOUT_MS } from './client.js';
import { badBody, contentTypes, VALID_BODIES } from './inputs.js';

const harness = pipelineForTests();

/** How a body reaches the handler. */
type Shape = 'buffer' | 'view' | 'arrayBuffer' | 'string' | 'parsed';
const SHAPES: Shape[] = ['buffer', 'view', 'arrayBuffer', 'string', 'parsed'];

/** Per-message trigger metadata, with values of any type. */
interface Facts {
  contentType?: unknown;
  messageId?: unknown;
  deliveryCount?: unknown;
  applicationProperties?: unknown;
}

/**
 * One message of a fuzzed invocation, before the good ones get their context (a fresh one per run, so each is
 * published rather than a duplicate of an earlier run's).
 */
type Draft =
  | { kind: 'good'; shape: Shape; facts: Facts }
  /** Bad input that a mutation may have left readable: published or rejected. */
  | { kind: 'bad'; bytes: Buffer; shape: Shape; facts: Facts }
  /** A value no reading can turn into a context: always rejected. */
  | { kind: 'junk'; body: unknown; facts: Facts };

/** A message as the handler gets it, and the bytes its job must keep if it is rejected. */
interface Message {
  kind: Draft['kind'];
  body: unknown;
  bytes: Buffer;
  facts: Facts;
}

/** A parsed object nested 1,000 levels deep: readable as JSON, far deeper than any context. */
const DEEP_OBJECT = Array.from({ length: 1_000 }).reduce<unknown>((inner) => ({ a: [inner] }), 1);

const oddValue = fc.constantFrom<unknown>(null, 0, -1, 1.5, Number.NaN, '', 'x', [], [1, 'a'], {}, true);

/** Metadata a good message may carry without being made unreadable by it. */
const goodFacts = fc.record(
  {
    contentType: fc.constantFrom<unknown>('application/json', 'application/json; charset=utf-8', null, 42),
    messageId: fc.oneof(fc.string({ maxLength: 40 }), oddValue),
    deliveryCount: fc.oneof(fc.nat(20), fc.constantFrom('3', 'three'), oddValue),
    applicationProperties: fc.oneof(
      fc.constant({ [ORGANIZATION_PROPERTY]: 'contoso.crm.dynamics.com' }),
      fc.constantFrom<unknown>('not json', '{"a":1}', [1, 2], null, 7),
    ),
  },
  { requiredKeys: [] },
);

/** Metadata of any kind, the content type included. */
const anyFacts = fc.record(
  {
    contentType: fc.oneof(contentTypes, oddValue),
    messageId: fc.oneof(fc.string({ maxLength: 40 }), oddValue),
    deliveryCount: fc.oneof(fc.nat(20), oddValue),
    applicationProperties: fc.oneof(
      fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 })),
      fc.constant({ [ORGANIZATION_PROPERTY]: { not: 'a string' }, MessageMaxSizeExceeded: 'maybe' }),
      oddValue,
    ),
  },
  { requiredKeys: [] },
);

const shape = fc.constantFrom(...SHAPES);

const draft: fc.Arbitrary<Draft> = fc.oneof(
  fc.record({ kind: fc.constant('good' as const), shape, facts: goodFacts }),
  fc.record({
    kind: fc.constant('bad' as const),
    bytes: badBody(VALID_BODIES.dataverseWebhook),
    shape,
    facts: anyFacts,
  }),
  fc.record({
    kind: fc.constant('junk' as const),
    body: fc.constantFrom<unknown>(
      null,
      undefined,
      0,
      42,
      true,
      '',
      '   ',
      [],
      {},
      [null],
      { MessageName: 'Update' },
      DEEP_OBJECT,
      'x'.repeat(2 * 1024 * 1024),
      Buffer.from([0x40, 0x17, 0x52, 0x65, 0x6d, 0x6f, 0x74, 0x65, 0x01, 0x99]),
    ),
    facts: anyFacts,
  }),
);

/** The body in `shape`; a parsed shape only for bytes that are JSON (else they go as a string, as a host would). */
function shaped(bytes: Buffer, as: Shape): { body: unknown; bytes: Buffer } {
  switch (as) {
    case 'buffer':
      return { body: bytes, bytes };
    case 'view': {
      // A view into a larger buffer, at an offset: only its own bytes are the message.
      const backing = new Uint8Array(bytes.length + 7);
      backing.set(bytes, 3);
      return { body: new Uint8Array(backing.buffer, 3, bytes.length), bytes };
    }
    case 'arrayBuffer':
      return { body: new Uint8Array(bytes).buffer, bytes };
    case 'string': {
      const text = bytes.toString('utf8');
      return { body: text, bytes: Buffer.from(text, 'utf8') };
    }
    case 'parsed':
      try {
        const value: unknown = JSON.parse(bytes.toString('utf8'));
        // A parsed `null` cannot be told from a missing body: both are kept as no bytes.
        return { body: value, bytes: junkBytes(value) };
      } catch {
        return shaped(bytes, 'string');
      }
  }
}

/** The exact bytes a junk body stands for: nothing for null and undefined, else its text or its JSON. */
function junkBytes(body: unknown): Buffer {
  if (body === null || body === undefined) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body), 'utf8');
}

let sequence = 0;

function realize(drafts: Draft[]): Message[] {
  const contexts = distinctContexts(drafts.length, `fuzz-handler-${++sequence}`);
  return drafts.map((d, i) => {
    if (d.kind === 'junk') return { kind: d.kind, body: d.body, bytes: junkBytes(d.body), facts: d.facts };
    const source = d.kind === 'good' ? (contexts[i] as Buffer) : d.bytes;
    return { kind: d.kind, ...shaped(source, d.shape), facts: d.facts };
  });
}

/** How the metadata arrays of a batch go wrong: each one absent, aligned, cut short, too long, or not an array. */
type ArrayFault = 'absent' | 'aligned' | 'short' | 'long' | 'not an array';
const arrayFault = fc.constantFrom<ArrayFault>('absent', 'aligned', 'aligned', 'short', 'long', 'not an array');
const FACT_NAMES = ['contentType', 'messageId', 'deliveryCount', 'applicationProperties'] as const;

/** The trigger metadata of a batch: the parallel `*Array`s the host passes, each with its fault. */
function batchMetadata(messages: Message[], faults: ArrayFault[]): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  FACT_NAMES.forEach((name, i) => {
    const values = messages.map((m) => m.facts[name]);
    const fault = faults[i] ?? 'aligned';
    if (fault === 'aligned') metadata[`${name}Array`] = values;
    if (fault === 'short') metadata[`${name}Array`] = values.slice(0, Math.max(0, values.length - 1));
    if (fault === 'long') metadata[`${name}Array`] = [...values, 'extra', null];
    if (fault === 'not an array') metadata[`${name}Array`] = values[0] ?? 'x';
  });
  return metadata;
}

/**
 * A message whose content type the metadata lost (a short or missing array) is read without one; a good message's
 * content type is one that does not stop it being read, so it stays good either way.
 */
async function expectSettled(message: Message, outcome: IngestOutcome | undefined, published: Set<string>) {
  const what = `${message.kind} ${message.bytes.toString('latin1', 0, 120)}`;
  expect(outcome, what).toBeDefined();
  if (message.kind === 'good' || (message.kind === 'bad' && outcome?.status !== 'rejected')) {
    expect(['published', 'duplicate'], what).toContain(outcome?.status);
    if (message.kind === 'good') expect(outcome?.status, what).toBe('published');
    expect(published.has(outcome?.eventId as string), `${what}: its event reached the topic`).toBe(true);
    return;
  }
  expect(outcome?.status, what).toBe('rejected');
  expect(outcome?.error?.code, what).toMatch(/^[A-Za-z]+$/);
  expect(outcome?.error?.message.trim(), what).not.toBe('');
  const job = await harness().jobs.get(outcome?.jobId as string);
  expect(job?.status, what).toBe('rejected');
  expect(job?.error?.code, what).toMatch(/^[A-Za-z]+$/);
  expect(job?.raw?.size, what).toBe(message.bytes.length);
  expect((await harness().raw.get(outcome?.jobId as string))?.equals(message.bytes), `${what}: raw bytes kept`).toBe(
    true,
  );
}

/** Calls the handler; a throw is reported as the bug it is rather than as a retry. */
async function handle(bodies: unknown, metadata: Record<string, unknown> | undefined): Promise<IngestResult> {
  try {
    return await handleServiceBusBatch(bodies, metadata, 'queue', harness().deps);
  } catch (error) {
    throw new Error(`handleServiceBusBatch threw for bad input (Service Bus would redeliver forever): ${error}`);
  }
}

describe('fuzz: handleServiceBusBatch with odd trigger shapes', () => {
  it(
    'settles a batch of any bodies and metadata: bad ones rejected with their bytes, good ones published',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(draft, { minLength: 1, maxLength: 6 }),
          fc.array(arrayFault, { minLength: 4, maxLength: 4 }),
          async (drafts, faults) => {
            const messages = realize(drafts);
            const result = await handle(
              messages.map((m) => m.body),
              batchMetadata(messages, faults),
            );
            expect(result.outcomes).toHaveLength(messages.length);
            const published = new Set(harness().receiver.events.map((e) => e.id));
            for (const [i, m] of messages.entries()) await expectSettled(m, result.outcomes[i], published);
          },
        ),
        fuzzOptions(100),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'settles a single message (cardinality one) of any body, with metadata of any shape or none',
    async () => {
      await fc.assert(
        fc.asyncProperty(draft, fc.boolean(), async (d, withMetadata) => {
          const [message] = realize([d]) as [Message];
          // An array body is a batch to the handler (the host passes batches as arrays): the batch property covers it.
          fc.pre(!Array.isArray(message.body));
          const metadata = withMetadata ? (message.facts as Record<string, unknown>) : undefined;
          const result = await handle(message.body, metadata);
          expect(result.outcomes).toHaveLength(1);
          await expectSettled(message, result.outcomes[0], new Set(harness().receiver.events.map((e) => e.id)));
        }),
        fuzzOptions(60),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('rejects a parsed body too deep to serialize (100,000 levels) and still publishes the rest of the batch', async () => {
    // Before the fix, re-serializing it overflowed the stack and the whole batch threw, on every redelivery.
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const [before, after] = distinctContexts(2, 'fuzz-handler-deep');
    const metadata = { messageIdArray: ['good-1', 'deep', 'good-2'] };
    const result = await handle([before, deep, after], metadata);
    expect(result.outcomes.map((o) => o.status)).toEqual(['published', 'rejected', 'published']);
    const rejected = result.outcomes[1] as IngestOutcome;
    expect(rejected.error?.code).toBe('TooDeep');
    expect(await harness().jobs.get(rejected.jobId)).toMatchObject({ status: 'rejected', messageId: 'deep' });
    expect((await harness().raw.get(rejected.jobId))?.length).toBe(0);
    // Redelivered, it lands on the same job.
    const again = await handle([deep], { messageIdArray: ['deep'], deliveryCountArray: [2] });
    expect(again.outcomes[0]).toMatchObject({ status: 'rejected', jobId: rejected.jobId });
  });

  it('treats an empty batch as nothing to do', async () => {
    expect((await handle([], { messageIdArray: ['orphan'] })).outcomes).toEqual([]);
  });

  it('sees known bytes under a content type that makes them unreadable as a duplicate, not a rejection', async () => {
    // Without an OperationId, a context's job is keyed by its bytes: the same bytes under another content type reach
    // the same job, which is published. Before the fix the outcome said "rejected" while the job said "published".
    const { OperationId: _, ...raw } = rawContext({ CorrelationId: '00000000-0000-4000-8000-00000000f022' });
    const bytes = Buffer.from(dataContractJson(raw));
    const [first] = (await handle([bytes], {})).outcomes;
    expect(first?.status).toBe('published');
    const [again] = (await handle([bytes], { contentTypeArray: ['application/xml'] })).outcomes;
    expect(again).toMatchObject({ status: 'duplicate', jobId: first?.jobId, eventId: first?.eventId });
    expect((await harness().jobs.get(first?.jobId as string))?.status).toBe('published');
  });
});
