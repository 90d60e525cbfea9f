/**
 * The Service Bus trigger of the real local host, driven through the admin endpoint
 * (`POST /admin/functions/dataverseQueue`) with fuzzed messages: malformed JSON, binary-ish and huge strings, deep
 * nesting, contexts with wrong keys, odd content types and odd message facts, alone and in batches. The invocation
 * must always succeed (a failure makes Service Bus redeliver the batch forever), and every message must end as a
 * job: published, or rejected with its reason and its exact bytes kept.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHost, startLocalHost } from '../helpers/localHost.js';
import { ORGANIZATION_PROPERTY } from '../helpers/pipeline.js';
import { expectClearAnswer, fuzzOptions, PROPERTY_TIMEOUT_MS, type RawRequest, send } from './client.js';
import { badBody, contentTypes, DEEP_BODIES, mutatedBody, SAMPLE_CONTEXT } from './inputs.js';

interface JobView {
  id: string;
  status: string;
  messageId?: string;
  error?: { code: string; message: string };
  raw?: { size: number; sha256: string };
}

/** One message of an admin invoke, and the bytes the host hands the trigger for it. */
interface FuzzedMessage {
  /** The JSON text of the `input` property. */
  input: string;
  /** Other properties of the message, as JSON texts by name. */
  facts: Record<string, string>;
  bytes: Buffer;
  /** True when no mutation can have left a readable context (the job must be rejected). */
  mustReject: boolean;
}

let host: RunningHost;

beforeAll(async () => {
  host = await startLocalHost();
});

afterAll(async () => {
  await host?.stop();
});

// The sample with placeholder ids, replaced per message by unique ones: a mutation that leaves a readable context
// is then a new context, not a duplicate of one an earlier run published (whose job has another message id).
const OPERATION_MARK = 'aaaaaaaa-0000-4000-8000-00000000000a';
const CORRELATION_MARK = 'aaaaaaaa-0000-4000-8000-00000000000b';
const MARKED_SAMPLE = {
  ...(JSON.parse(SAMPLE_CONTEXT.toString('utf8')) as Record<string, unknown>),
  OperationId: OPERATION_MARK,
  CorrelationId: CORRELATION_MARK,
};
let sequence = 0;

/** The message with unique ids in place of the placeholders, in its input and its bytes alike. */
function uniquified(message: FuzzedMessage): FuzzedMessage {
  sequence++;
  const id = (n: number) => `00000000-0000-4000-8${n}00-${sequence.toString(16).padStart(12, '0')}`;
  // The placeholders are ASCII: replacing them in a latin1 view leaves every other byte as it was.
  const replace = (text: string) => text.replaceAll(OPERATION_MARK, id(1)).replaceAll(CORRELATION_MARK, id(2));
  return {
    ...message,
    input: replace(message.input),
    bytes: Buffer.from(replace(message.bytes.toString('latin1')), 'latin1'),
  };
}

/** An input as a JSON string value: the host hands the trigger its UTF-8 bytes. */
function asString(text: string, mustReject: boolean): Omit<FuzzedMessage, 'facts'> {
  return { input: JSON.stringify(text), bytes: Buffer.from(text, 'utf8'), mustReject };
}

/** An input as a JSON value: the host hands the trigger its JSON serialization (a string: its text). */
function asValue(json: string, mustReject: boolean): Omit<FuzzedMessage, 'facts'> {
  const value: unknown = JSON.parse(json);
  // A JSON string is an input like any other string: its text is the body.
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return { input: json, bytes: Buffer.from(text, 'utf8'), mustReject };
}

/** The `input` of an admin message: text that is not a context, bytes as a string, contexts with wrong keys. */
const input = fc.oneof(
  badBody(MARKED_SAMPLE).map((bytes) => asString(bytes.toString('utf8'), false)),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => asString(Buffer.from(bytes).toString('latin1'), true)),
  fc.string({ unit: 'binary', maxLength: 100 }).map((text) => asString(`\u0000${text}`, true)),
  mutatedBody(MARKED_SAMPLE).map((bytes) => asValue(bytes.toString('utf8'), false)),
  fc.jsonValue({ maxDepth: 4 }).map((value) => asValue(JSON.stringify(value), true)),
  fc.constantFrom(
    asString('x'.repeat(2 * 1024 * 1024), true),
    asString((DEEP_BODIES['open arrays'] as Buffer).toString('utf8'), true),
    asString((DEEP_BODIES['closed objects'] as Buffer).toString('utf8'), true),
    asString('', true),
    asValue('null', true),
    asValue('"\\ud800"', true),
  ),
);

/** JSON values of the wrong type for any of the message facts. */
const oddValue = fc.constantFrom('null', '123', '-1', '1.5', '1e308', '""', '"x"', '[]', '[1,"a"]', '{}', 'true');

/** The message facts a Service Bus message carries, absent, right or odd. */
const facts = fc.record(
  {
    contentType: fc.oneof(
      contentTypes.map((type) => JSON.stringify(type ?? 'application/json')),
      oddValue,
    ),
    deliveryCount: fc.oneof(fc.constantFrom('1', '2', '"3"'), oddValue),
    applicationProperties: fc.oneof(
      fc.constant(JSON.stringify({ [ORGANIZATION_PROPERTY]: 'contoso.crm.dynamics.com' })),
      fc.constant(JSON.stringify({ [ORGANIZATION_PROPERTY]: { not: 'a string' }, messageMaxSizeExceeded: 'maybe' })),
      fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 })).map((value) => JSON.stringify(value)),
      oddValue,
    ),
  },
  { requiredKeys: [] },
);

const message = fc
  .tuple(input, facts)
  .map(([body, properties]): FuzzedMessage => ({ ...body, facts: properties as Record<string, string> }));

/** The admin invoke body for `messages`: one message, or a batch (`{"messages": […]}`), each with a message id. */
function invokeBody(messages: FuzzedMessage[], ids: string[], batch: boolean): Buffer {
  const texts = messages.map((m, i) => {
    const properties = Object.entries({ ...m.facts, messageId: JSON.stringify(ids[i]) }).map(
      ([name, json]) => `${JSON.stringify(name)}:${json}`,
    );
    return `{"input":${m.input},${properties.join(',')}}`;
  });
  return Buffer.from(batch ? `{"messages":[${texts.join(',')}]}` : (texts[0] as string));
}

async function invoke(body: Buffer, status = 202): Promise<{ error?: { code: string } }> {
  const request: RawRequest = {
    method: 'POST',
    path: '/admin/functions/dataverseQueue',
    headers: { 'x-functions-key': host.key, 'content-type': 'application/json' },
    body,
  };
  const answer = await send(host.url, request);
  expectClearAnswer(answer, request);
  expect(answer.status, answer.body.toString('utf8', 0, 300)).toBe(status);
  return answer.body.length ? (JSON.parse(answer.body.toString('utf8')) as { error?: { code: string } }) : {};
}

/** Every job of the host, all pages. */
async function allJobs(): Promise<JobView[]> {
  const jobs: JobView[] = [];
  let next: string | undefined = '/api/jobs?top=1000';
  while (next) {
    const response = await host.request(next);
    expect(response.status).toBe(200);
    const page = (await response.json()) as { value: JobView[]; nextLink?: string };
    jobs.push(...page.value);
    next = page.nextLink ? new URL(page.nextLink).pathname + new URL(page.nextLink).search : undefined;
  }
  return jobs;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The message ended as a job: published, or rejected with a reason and exactly its bytes kept. An earlier message with
 * the same bytes owns the job when this one was a duplicate of it.
 */
function expectSettled(sent: FuzzedMessage, messageId: string, jobs: JobView[]): void {
  const hash = sha256(sent.bytes);
  const job =
    jobs.find((j) => j.messageId === messageId) ?? jobs.find((j) => j.status === 'rejected' && j.raw?.sha256 === hash);
  const what = `${messageId}: ${sent.input.slice(0, 200)}`;
  expect(job, `no job for ${what}`).toBeDefined();
  if (job?.status === 'published' && !sent.mustReject) return;
  expect(job?.status, what).toBe('rejected');
  expect(job?.error?.code, what).toMatch(/^[A-Za-z]+$/);
  expect(job?.error?.message.trim(), what).not.toBe('');
  expect(job?.raw?.size, what).toBe(sent.bytes.length);
  expect(job?.raw?.sha256, what).toBe(hash);
}

describe('fuzz: the Service Bus trigger through the admin endpoint', () => {
  it(
    'settles every fuzzed message, alone or in a batch, as published or rejected with its bytes kept',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 4 }), fc.boolean(), async (messages, batch) => {
          const sent = (batch ? messages : messages.slice(0, 1)).map(uniquified);
          const ids = sent.map((_, i) => `fuzz-${sequence}-${i}`);
          await invoke(invokeBody(sent, ids, batch));
          const jobs = await allJobs();
          sent.forEach((m, i) => {
            expectSettled(m, ids[i] as string, jobs);
          });
        }),
        fuzzOptions(100),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('rejects an input nested 1,000 levels deep as a job; answers 400 to one too deep to serialize', async () => {
    const body = (deep: Buffer, id: string) =>
      Buffer.concat([Buffer.from('{"input":'), deep, Buffer.from(`,"messageId":"${id}"}`)]);
    await invoke(body(Buffer.from(`${'['.repeat(1_000)}${']'.repeat(1_000)}`), 'deep-1000'));
    expect((await allJobs()).find((j) => j.messageId === 'deep-1000')).toMatchObject({
      status: 'rejected',
      error: { code: expect.stringMatching(/^[A-Za-z]+$/) },
    });
    for (const [name, deep] of Object.entries(DEEP_BODIES)) {
      const answer = await invoke(body(deep, `deep-${name}`), 400);
      expect(answer.error?.code, name).toBe('InvalidBody');
    }
  });

  it('is still alive after all of it', async () => {
    expect((await host.request('/api/health', { key: null })).status).toBe(200);
    expect(host.output()).not.toMatch(/unhandled error|FunctionFailed/);
  });
});
