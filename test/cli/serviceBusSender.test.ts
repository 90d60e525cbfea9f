import type { ServiceBusMessage } from '@azure/service-bus';
import { describe, expect, it } from 'vitest';
import { DATAVERSE_PROPERTIES } from '../../shared/dataverse/transport.js';
import {
  type MessageBatchLike,
  namespaceHost,
  type OutboundMessage,
  openServiceBusSender,
  redactConnectionString,
  ServiceBusConnectionError,
  ServiceBusQueueSender,
  type ServiceBusSenderLike,
  toServiceBusMessage,
} from '../../tools/cli/serviceBusSender.js';
import { contextBytes } from '../helpers/fixtures.js';

const KEY = 'Zm9vYmFyYmF6cXV4K3NlY3JldC9rZXk9PT0=';
const CONNECTION_STRING = `Endpoint=sb://contoso-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${KEY}`;

/** A batch that holds `capacity` messages, like a real one holds a number of bytes. */
class FakeBatch implements MessageBatchLike {
  readonly messages: ServiceBusMessage[] = [];
  readonly maxSizeInBytes = 262_144;
  constructor(
    private readonly capacity: number,
    private readonly tooLarge: (message: ServiceBusMessage) => boolean,
  ) {}
  get count(): number {
    return this.messages.length;
  }
  tryAddMessage(message: ServiceBusMessage): boolean {
    if (this.messages.length >= this.capacity || this.tooLarge(message)) return false;
    this.messages.push(message);
    return true;
  }
}

interface FakeOptions {
  capacity?: number;
  tooLarge?: (message: ServiceBusMessage) => boolean;
  /** Throws this from the n-th sendMessages call (0-based). */
  failSend?: { call: number; error: Error };
}

/** Shaped like ServiceBusClient / ServiceBusSender, recording what would have gone to the namespace. */
function fakeClient(options: FakeOptions = {}) {
  const state = {
    queues: [] as string[],
    sentBatches: [] as ServiceBusMessage[][],
    batchesCreated: 0,
    senderClosed: false,
    clientClosed: false,
  };
  let calls = 0;
  const sender: ServiceBusSenderLike<FakeBatch> = {
    async createMessageBatch() {
      state.batchesCreated++;
      return new FakeBatch(options.capacity ?? 100, options.tooLarge ?? (() => false));
    },
    async sendMessages(batch) {
      const call = calls++;
      if (options.failSend && options.failSend.call === call) throw options.failSend.error;
      state.sentBatches.push([...batch.messages]);
    },
    async close() {
      state.senderClosed = true;
    },
  };
  const client = {
    createSender(queueName: string) {
      state.queues.push(queueName);
      return sender;
    },
    async close() {
      state.clientClosed = true;
    },
  };
  return { client, state };
}

function outbound(index: number, body: Buffer = Buffer.from(`{"MessageName":"Create","n":${index}}`)): OutboundMessage {
  return {
    body,
    contentType: 'application/json',
    messageId: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    applicationProperties: { [DATAVERSE_PROPERTIES.requestName]: 'Create', n: String(index) },
  };
}

describe('ServiceBusQueueSender', () => {
  it('sends each context as Dataverse does: the bytes as a Buffer, application/json, the claim properties', async () => {
    const { client, state } = fakeClient();
    const bytes = contextBytes('msdocs-usewebhooks-update-contact.json');
    const message: OutboundMessage = {
      body: bytes,
      contentType: 'application/json',
      messageId: '5f0f5c4e-3f43-4a59-9d4e-2f4a0f7c1b11',
      applicationProperties: {
        [DATAVERSE_PROPERTIES.organization]: 'orgname.crm.dynamics.com',
        [DATAVERSE_PROPERTIES.requestName]: 'Update',
        [DATAVERSE_PROPERTIES.entityLogicalName]: 'contact',
      },
    };
    const sender = new ServiceBusQueueSender(client, 'dataverse', CONNECTION_STRING);
    expect(await sender.send([message])).toEqual([{ ok: true }]);
    await sender.close();

    expect(state.queues).toEqual(['dataverse']);
    expect(state.sentBatches).toHaveLength(1);
    const sent = state.sentBatches[0]?.[0];
    if (!sent) throw new Error('nothing was sent');
    // A Buffer body goes out as an AMQP data section, byte for byte; a string would be JSON-encoded again.
    expect(Buffer.isBuffer(sent.body)).toBe(true);
    expect((sent.body as Buffer).equals(bytes)).toBe(true);
    expect(sent.contentType).toBe('application/json');
    expect(sent.messageId).toBe('5f0f5c4e-3f43-4a59-9d4e-2f4a0f7c1b11');
    expect(sent.applicationProperties).toEqual(message.applicationProperties);
    expect(state.senderClosed).toBe(true);
    expect(state.clientClosed).toBe(true);
  });

  it('fills batches in order and starts a new one when tryAddMessage says the batch is full', async () => {
    const { client, state } = fakeClient({ capacity: 3 });
    const messages = Array.from({ length: 8 }, (_, index) => outbound(index));
    const outcomes = await new ServiceBusQueueSender(client, 'q', CONNECTION_STRING).send(messages);

    expect(outcomes).toEqual(messages.map(() => ({ ok: true })));
    expect(state.sentBatches.map((batch) => batch.length)).toEqual([3, 3, 2]);
    expect(state.sentBatches.flat().map((message) => message.messageId)).toEqual(
      messages.map((message) => message.messageId),
    );
    expect(state.sentBatches.flat().map((message) => (message.body as Buffer).toString())).toEqual(
      messages.map((message) => message.body.toString()),
    );
  });

  it('fails only a message too large for an empty batch, and sends the others', async () => {
    const big = Buffer.alloc(300_000, 0x20);
    const { client, state } = fakeClient({
      capacity: 2,
      tooLarge: (message) => (message.body as Buffer).length > 262_144,
    });
    const messages = [outbound(0), outbound(1), outbound(2, big), outbound(3), outbound(4, big)];
    const outcomes = await new ServiceBusQueueSender(client, 'q', CONNECTION_STRING).send(messages);

    expect(outcomes.map((outcome) => (outcome.ok ? 'ok' : outcome.code))).toEqual([
      'ok',
      'ok',
      'MessageTooLarge',
      'ok',
      'MessageTooLarge',
    ]);
    expect(outcomes[2]).toMatchObject({ message: expect.stringContaining('300000 bytes') });
    expect(state.sentBatches.map((batch) => batch.map((message) => message.applicationProperties?.n))).toEqual([
      ['0', '1'],
      ['3'],
    ]);
  });

  it('fails the batch that failed and the rest, keeps earlier batches sent, and never reports the key', async () => {
    const error = Object.assign(
      new Error(`Put token failed for ${CONNECTION_STRING} (amqps://contoso-bus.servicebus.windows.net:5671)`),
      { code: 'UnauthorizedAccess' },
    );
    const { client, state } = fakeClient({ capacity: 2, failSend: { call: 1, error } });
    const messages = Array.from({ length: 5 }, (_, index) => outbound(index));
    const outcomes = await new ServiceBusQueueSender(client, 'q', CONNECTION_STRING).send(messages);

    expect(outcomes.map((outcome) => outcome.ok)).toEqual([true, true, false, false, false]);
    expect(state.sentBatches).toHaveLength(1);
    const failure = outcomes[2];
    expect(failure).toMatchObject({ ok: false, code: 'UnauthorizedAccess' });
    const text = JSON.stringify(outcomes);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('SharedAccessKey=');
    expect(text).toContain('contoso-bus.servicebus.windows.net');
  });

  it('reports an error thrown by createSender (e.g. an EntityPath for another queue) on every message', async () => {
    const { client } = fakeClient();
    const broken = {
      ...client,
      createSender(): never {
        throw new Error(`The queue name does not match the EntityPath in SharedAccessKey=${KEY};EntityPath=other`);
      },
    };
    const outcomes = await new ServiceBusQueueSender(broken, 'q', CONNECTION_STRING).send([outbound(0), outbound(1)]);
    expect(outcomes).toHaveLength(2);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ ok: false, code: 'Error' });
      expect(JSON.stringify(outcome)).not.toContain(KEY);
    }
  });
});

describe('toServiceBusMessage', () => {
  it('keeps the body the same Buffer and copies the properties', () => {
    const message = outbound(7);
    const sdk = toServiceBusMessage(message);
    expect(sdk.body).toBe(message.body);
    expect(sdk.contentType).toBe('application/json');
    expect(sdk.messageId).toBe(message.messageId);
    expect(sdk.applicationProperties).toEqual(message.applicationProperties);
    expect(sdk.applicationProperties).not.toBe(message.applicationProperties);
  });
});

describe('redactConnectionString', () => {
  it('replaces the connection string with its namespace host and scrubs keys and signatures', () => {
    expect(redactConnectionString(`cannot use ${CONNECTION_STRING}!`, CONNECTION_STRING)).toBe(
      'cannot use contoso-bus.servicebus.windows.net!',
    );
    expect(redactConnectionString(`key ${KEY} and ${encodeURIComponent(KEY)}`, CONNECTION_STRING)).toBe(
      'key <redacted> and <redacted>',
    );
    expect(
      redactConnectionString(
        'SharedAccessKeyName=x;SharedAccessKey=other+key= and SharedAccessSignature=SharedAccessSignature sr=a&sig=b%3D&se=1;x',
        CONNECTION_STRING,
      ),
    ).toBe('SharedAccessKeyName=x;SharedAccessKey=<redacted> and SharedAccessSignature=<redacted>;x');
    expect(redactConnectionString('https://x/?sig=abc%2B&se=1', '')).toBe('https://x/?sig=<redacted>&se=1');
  });

  it('finds the namespace host', () => {
    expect(namespaceHost(CONNECTION_STRING)).toBe('contoso-bus.servicebus.windows.net');
    expect(namespaceHost('endpoint = sb://ns.example:5671/;x=y')).toBe('ns.example');
    expect(namespaceHost('SharedAccessKey=abc')).toBeUndefined();
  });
});

describe('openServiceBusSender', () => {
  it('turns a malformed connection string into a ServiceBusConnectionError without the key', async () => {
    const error = await openServiceBusSender(`Endpoint=sb://ns/;SharedAccessKey=${KEY}`, 'q').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceBusConnectionError);
    expect((error as Error).message).not.toContain(KEY);
    expect((error as Error).message).toContain('SharedAccessKeyName');
  });

  it('opens a real client lazily and closes it without touching the network', async () => {
    const sender = await openServiceBusSender(CONNECTION_STRING, 'dataverse');
    expect(sender).toBeInstanceOf(ServiceBusQueueSender);
    await expect(sender.close()).resolves.toBeUndefined();
  });
});
