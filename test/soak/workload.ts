import { dataContractJson } from '../helpers/contexts.js';
import { contextNames, rawContext } from '../helpers/fixtures.js';
import { deterministicGuid as guid, shuffled } from '../helpers/pipeline.js';

/** How a message reaches the app: a Service Bus batch (through the local host's admin invoke) or the webhook. */
export type Path = 'queue' | 'webhook';

/** One distinct message of the soak: a valid context, or a bad input mixed in on purpose. */
export interface SoakItem {
  index: number;
  path: Path;
  body: Buffer;
  contentType: string;
  /** The OperationId the soak gave a valid context: how a published event is traced back to what was sent. */
  operationId?: string;
  /** For a bad input: the rejection code the README's "Bad input" table documents for it. */
  expectedCode?: string;
  /** What kind of input it is (the sample's file name, or the kind of bad input). */
  kind: string;
  /** Lost before it reached the bridge (never sent), as a deleted namespace or a rotated key would lose it. */
  dropped?: boolean;
}

/** One send of an item: every item is sent more than once, and the sends are shuffled. */
export interface Delivery {
  item: SoakItem;
  copy: number;
}

/**
 * Bad inputs, each with the rejection code written by hand from the README's "Bad input" table (not computed by the
 * reader). `n` makes every one distinct, so each must end as its own rejected job.
 */
const BAD_INPUTS: { kind: string; path: Path; code: string; make(n: number): [Buffer, string] }[] = [
  {
    kind: 'not JSON',
    path: 'queue',
    code: 'NotJson',
    make: (n) => [Buffer.from(`not json {${n}`), 'application/json'],
  },
  {
    kind: '.NET binary (msbin1)',
    path: 'queue',
    code: 'UnsupportedMessageFormat',
    make: (n) => [Buffer.from(`@\u0006String\b${n}`), 'application/msbin1'],
  },
  {
    kind: 'JSON that is not a context',
    path: 'queue',
    code: 'NotAContext',
    make: (n) => [Buffer.from(JSON.stringify({ soak: 'not a context', n })), 'application/json'],
  },
  {
    kind: 'truncated context',
    path: 'webhook',
    code: 'NotJson',
    make: (n) => [
      Buffer.from(`${dataContractJson(rawContext(contextNames()[0] as string)).slice(0, 400)}${n}`),
      'application/json',
    ],
  },
  {
    kind: 'invalid UTF-8',
    path: 'webhook',
    code: 'InvalidEncoding',
    make: (n) => [
      Buffer.concat([Buffer.from('{"MessageName":"'), Buffer.from([0xff, 0xfe]), Buffer.from(`${n}"}`)]),
      'application/json',
    ],
  },
  {
    kind: 'empty body',
    path: 'webhook',
    code: 'EmptyBody',
    make: (n) => [Buffer.from(' '.repeat(n + 1)), 'application/json'],
  },
];

/**
 * The soak's messages: `count` valid contexts built from the reference samples (round robin, so every table and
 * message of the corpus appears), each with its own OperationId, CorrelationId and time, over a pool of rows so rows
 * get several operations; plus `bad` bad inputs. A `webhookShare` of the contexts goes through the webhook.
 */
export function buildItems(options: {
  count: number;
  bad: number;
  webhookShare: number;
  random: () => number;
  seed: number;
  /** Rewrites each context (in time order) before it is serialized, given the reference sample it was built from. */
  shape?: (context: Record<string, unknown>, sample: Record<string, unknown>) => Record<string, unknown>;
}): SoakItem[] {
  const names = contextNames();
  const samples = names.map((name) => rawContext(name));
  const rows = Math.max(1, Math.ceil(options.count / 4));
  const start = Date.UTC(2026, 0, 1);
  const items: SoakItem[] = [];
  for (let i = 0; i < options.count; i++) {
    const sample = samples[i % samples.length] as Record<string, unknown>;
    const operationId = guid(`${options.seed}-op-${i}`);
    const built = {
      ...sample,
      OperationId: operationId,
      CorrelationId: guid(`${options.seed}-correlation-${i}`),
      PrimaryEntityId: guid(`${options.seed}-row-${i % rows}`),
      OperationCreatedOn: `/Date(${start + i * 1_000})/`,
    };
    const context = options.shape ? options.shape(built, sample) : built;
    items.push({
      index: i,
      path: options.random() < options.webhookShare ? 'webhook' : 'queue',
      body: Buffer.from(dataContractJson(context)),
      contentType: 'application/json',
      operationId,
      kind: names[i % names.length] as string,
    });
  }
  for (let n = 0; n < options.bad; n++) {
    const bad = BAD_INPUTS[n % BAD_INPUTS.length] as (typeof BAD_INPUTS)[number];
    const [body, contentType] = bad.make(n);
    items.push({ index: items.length, path: bad.path, body, contentType, expectedCode: bad.code, kind: bad.kind });
  }
  return items;
}

/** Every item sent twice, a `thirdCopyShare` of them three times, all shuffled together. */
export function plan(items: readonly SoakItem[], random: () => number, thirdCopyShare = 0.25): Delivery[] {
  const deliveries: Delivery[] = [];
  for (const item of items) {
    const copies = random() < thirdCopyShare ? 3 : 2;
    for (let copy = 1; copy <= copies; copy++) deliveries.push({ item, copy });
  }
  return shuffled(deliveries, random);
}
