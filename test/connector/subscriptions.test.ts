import { createHash, randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import {
  createSubscription,
  deleteSubscription,
  listSubscriptions,
  type SubscriptionView,
} from '../../shared/connector/subscriptions.js';
import { TableSubscriptionStore } from '../../shared/store/tableSubscriptionStore.js';
import { testAzurite } from '../helpers/azurite.js';

const azurite = testAzurite();

async function freshStore(): Promise<TableSubscriptionStore> {
  const client = TableClient.fromConnectionString(azurite.connectionString, `csub${randomBytes(6).toString('hex')}`, {
    allowInsecureConnection: true,
  });
  await client.createTable();
  return new TableSubscriptionStore(client);
}

const CALLBACK =
  'https://prod-12.westeurope.logic.azure.com:443/workflows/abc123/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=FLOW-SIGNATURE-SECRET';
const CALLBACK_WITHOUT_QUERY =
  'https://prod-12.westeurope.logic.azure.com/workflows/abc123/triggers/manual/paths/invoke';
const REQUEST_URL = new URL('https://bridge.azurewebsites.net/api/subscriptions?code=FUNCTION-KEY');
const NOW = () => new Date('2024-05-01T10:00:00.000Z');
const production = { localMode: false, now: NOW };

type Created = SubscriptionView & { secret: string };

interface ErrorBody {
  error: { code: string; message: string; target?: string };
}

describe('createSubscription', () => {
  it('answers 201 with the view, the secret, and a Location to delete it with', async () => {
    const store = await freshStore();
    const response = await createSubscription(
      { callbackUrl: CALLBACK, table: 'account', messages: 'Create, Update', columns: 'name,telephone1' },
      REQUEST_URL,
      store,
      production,
    );
    expect(response.status).toBe(201);
    const body = response.jsonBody as Created;
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      callbackUrl: CALLBACK_WITHOUT_QUERY,
      tables: ['account'],
      messages: ['Create', 'Update'],
      columns: ['name', 'telephone1'],
      onlyWhenValuesChange: false,
      createdAt: '2024-05-01T10:00:00.000Z',
      health: 'healthy',
      consecutiveFailures: 0,
      secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    const location = new URL(response.headers?.Location ?? '');
    expect(location.origin).toBe('https://bridge.azurewebsites.net');
    expect(location.pathname).toBe(`/api/subscriptions/${body.id}`);
    expect([...location.searchParams.keys()]).toEqual(['token']);
    const token = location.searchParams.get('token') ?? '';
    expect(token.length).toBeGreaterThanOrEqual(32);

    // What is stored: the full callback (deliveries need its query), the secret, and only the token's hash.
    const stored = await store.get(body.id);
    expect(stored).toMatchObject({ callbackUrl: CALLBACK, secret: body.secret });
    expect(stored?.deleteTokenHash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(JSON.stringify(stored)).not.toContain(token);
  });

  it('stores onlyWhenValuesChange with columns, refuses it without, and reads subscriptions stored before it as off', async () => {
    const store = await freshStore();
    const on = await createSubscription(
      { callbackUrl: CALLBACK, columns: 'telephone1', onlyWhenValuesChange: true },
      REQUEST_URL,
      store,
      production,
    );
    expect(on.status).toBe(201);
    const created = on.jsonBody as Created;
    expect(created).toMatchObject({ columns: ['telephone1'], onlyWhenValuesChange: true });
    expect(await store.get(created.id)).toMatchObject({ onlyWhenValuesChange: true });

    const alone = await createSubscription(
      { callbackUrl: CALLBACK, onlyWhenValuesChange: true },
      REQUEST_URL,
      store,
      production,
    );
    expect(alone.status).toBe(400);
    expect((alone.jsonBody as ErrorBody).error).toMatchObject({ code: 'InvalidBody', target: 'onlyWhenValuesChange' });
    expect((alone.jsonBody as ErrorBody).error.message).toContain('needs columns');

    const wrongType = await createSubscription(
      { callbackUrl: CALLBACK, columns: 'name', onlyWhenValuesChange: 'yes' },
      REQUEST_URL,
      store,
      production,
    );
    expect(wrongType.status).toBe(400);
    expect((wrongType.jsonBody as ErrorBody).error.target).toBe('onlyWhenValuesChange');

    // An entity written before the option existed has no such property: it reads as off, and is listed as false.
    const off = await createSubscription({ callbackUrl: CALLBACK, columns: 'name' }, REQUEST_URL, store, production);
    const offId = (off.jsonBody as Created).id;
    const stored = await store.get(offId);
    expect(stored).not.toHaveProperty('onlyWhenValuesChange');
    const listed = (await listSubscriptions(store)).jsonBody as { value: SubscriptionView[] };
    expect(listed.value.find((s) => s.id === offId)?.onlyWhenValuesChange).toBe(false);
    expect(listed.value.find((s) => s.id === created.id)?.onlyWhenValuesChange).toBe(true);
  });

  it('keeps a secret the caller chose, and reads empty filters as "any"', async () => {
    const store = await freshStore();
    const secret = 'a-secret-chosen-by-the-client';
    const response = await createSubscription(
      { callbackUrl: CALLBACK, table: '', messages: ' ', columns: '', secret },
      REQUEST_URL,
      store,
      production,
    );
    expect(response.status).toBe(201);
    expect(response.jsonBody).toMatchObject({ secret, tables: [], messages: [], columns: [] });
  });

  it('gives every subscription its own id, secret and token', async () => {
    const store = await freshStore();
    const [a, b] = [
      await createSubscription({ callbackUrl: CALLBACK }, REQUEST_URL, store, production),
      await createSubscription({ callbackUrl: CALLBACK }, REQUEST_URL, store, production),
    ];
    expect((a.jsonBody as Created).id).not.toBe((b.jsonBody as Created).id);
    expect((a.jsonBody as Created).secret).not.toBe((b.jsonBody as Created).secret);
    expect(a.headers?.Location).not.toBe(b.headers?.Location);
  });

  it('accepts http to localhost in local mode only', async () => {
    const store = await freshStore();
    const local = 'http://localhost:7071/hook?sig=x';
    expect((await createSubscription({ callbackUrl: local }, REQUEST_URL, store, { localMode: true })).status).toBe(
      201,
    );
    expect((await createSubscription({ callbackUrl: local }, REQUEST_URL, store, production)).status).toBe(400);
  });

  describe('refuses a bad body with 400 naming the target, and stores nothing', () => {
    const cases: [string, unknown, string, string][] = [
      ['not an object', 'callbackUrl=x', 'InvalidBody', 'body'],
      ['null', null, 'InvalidBody', 'body'],
      ['an array', [CALLBACK], 'InvalidBody', 'body'],
      ['an unknown property', { callbackUrl: CALLBACK, tabel: 'account' }, 'InvalidBody', 'tabel'],
      ['no callbackUrl', { table: 'account' }, 'InvalidBody', 'callbackUrl'],
      ['a callbackUrl that is not a string', { callbackUrl: 42 }, 'InvalidBody', 'callbackUrl'],
      [
        'a callbackUrl that is not a URL',
        { callbackUrl: 'prod-12/flow?sig=FLOW-SIGNATURE-SECRET' },
        'InvalidCallbackUrl',
        'callbackUrl',
      ],
      [
        'an http callbackUrl',
        { callbackUrl: CALLBACK.replace('https:', 'http:') },
        'InvalidCallbackUrl',
        'callbackUrl',
      ],
      [
        'a private callbackUrl',
        { callbackUrl: 'https://10.0.0.7/hook?sig=FLOW-SIGNATURE-SECRET' },
        'InvalidCallbackUrl',
        'callbackUrl',
      ],
      [
        'a metadata-endpoint callbackUrl',
        { callbackUrl: 'https://169.254.169.254/?sig=FLOW-SIGNATURE-SECRET' },
        'InvalidCallbackUrl',
        'callbackUrl',
      ],
      ['two tables', { callbackUrl: CALLBACK, table: 'account,contact' }, 'InvalidBody', 'table'],
      ['a table that is not a string', { callbackUrl: CALLBACK, table: ['account'] }, 'InvalidBody', 'table'],
      ['a bad message name', { callbackUrl: CALLBACK, messages: 'Create;Drop' }, 'InvalidBody', 'messages'],
      ['messages as an array', { callbackUrl: CALLBACK, messages: ['Create'] }, 'InvalidBody', 'messages'],
      ['a bad column name', { callbackUrl: CALLBACK, columns: 'name, tele phone' }, 'InvalidBody', 'columns'],
      [
        'too many columns',
        { callbackUrl: CALLBACK, columns: Array.from({ length: 101 }, (_, n) => `c${n}`).join(',') },
        'InvalidBody',
        'columns',
      ],
      ['a short secret', { callbackUrl: CALLBACK, secret: 'short' }, 'InvalidBody', 'secret'],
      ['a long secret', { callbackUrl: CALLBACK, secret: 'x'.repeat(257) }, 'InvalidBody', 'secret'],
      ['a secret that is not a string', { callbackUrl: CALLBACK, secret: 1234567890123456 }, 'InvalidBody', 'secret'],
    ];
    it.each(cases)('%s', async (_case, body, code, target) => {
      const store = await freshStore();
      const response = await createSubscription(body, REQUEST_URL, store, production);
      expect(response.status).toBe(400);
      const { error } = response.jsonBody as ErrorBody;
      expect(error).toMatchObject({ code, target });
      expect(error.message.length).toBeGreaterThan(10);
      expect(error.message).not.toContain('FLOW-SIGNATURE-SECRET');
      expect(await store.list()).toEqual([]);
    });
  });
});

describe('deleteSubscription', () => {
  async function created(store: TableSubscriptionStore) {
    const response = await createSubscription({ callbackUrl: CALLBACK }, REQUEST_URL, store, production);
    const location = new URL(response.headers?.Location ?? '');
    const id = location.pathname.split('/').pop() ?? '';
    return { id, token: location.searchParams.get('token') };
  }

  it('deletes with nothing but the Location URL, then answers 404', async () => {
    const store = await freshStore();
    const { id, token } = await created(store);
    expect(await deleteSubscription(id, token, store)).toEqual({ status: 200, jsonBody: { id, deleted: true } });
    expect(await store.get(id)).toBeUndefined();
    const again = await deleteSubscription(id, token, store);
    expect(again.status).toBe(404);
    expect((again.jsonBody as ErrorBody).error).toMatchObject({ code: 'NotFound', target: 'id' });
  });

  it('answers 401 to a missing or wrong token and keeps the subscription', async () => {
    const store = await freshStore();
    const { id, token } = await created(store);
    const other = await created(store);
    for (const wrong of [null, undefined, '', 'not-the-token', `${token}x`, other.token]) {
      const response = await deleteSubscription(id, wrong, store);
      expect(response.status).toBe(401);
      expect((response.jsonBody as ErrorBody).error).toMatchObject({ code: 'Unauthorized', target: 'token' });
    }
    expect(await store.get(id)).toBeDefined();
  });

  it('answers 400 to a malformed id and 404 to an unknown one', async () => {
    const store = await freshStore();
    for (const id of ['', 'abc', 'G'.repeat(32), `${'a'.repeat(32)}/x`]) {
      const response = await deleteSubscription(id, 'token', store);
      expect(response.status).toBe(400);
      expect((response.jsonBody as ErrorBody).error).toMatchObject({ code: 'InvalidParameter', target: 'id' });
    }
    expect((await deleteSubscription('0'.repeat(32), 'token', store)).status).toBe(404);
  });
});

describe('listSubscriptions', () => {
  it('lists every subscription with its health, without secrets, token hashes or callback queries', async () => {
    const store = await freshStore();
    const a = (await createSubscription({ callbackUrl: CALLBACK, table: 'account' }, REQUEST_URL, store, production))
      .jsonBody as Created;
    const b = (
      await createSubscription({ callbackUrl: CALLBACK, secret: 'my-own-secret-value-123' }, REQUEST_URL, store, {
        localMode: false,
        now: () => new Date('2024-05-02T10:00:00.000Z'),
      })
    ).jsonBody as Created;
    const failure = {
      code: 'HttpStatus',
      message: 'The callback answered HTTP 500.',
      status: 500,
      at: '2024-05-02T11:00:00.000Z',
      eventId: 'e1',
    };
    await store.recordFailure(b.id, failure, 1);

    const response = await listSubscriptions(store);
    expect(response.status).toBe(200);
    const { value } = response.jsonBody as { value: SubscriptionView[] };
    expect(value.map((s) => s.id)).toEqual([a.id, b.id]);
    expect(value[0]).toEqual({
      id: a.id,
      callbackUrl: CALLBACK_WITHOUT_QUERY,
      tables: ['account'],
      messages: [],
      columns: [],
      onlyWhenValuesChange: false,
      createdAt: '2024-05-01T10:00:00.000Z',
      health: 'healthy',
      consecutiveFailures: 0,
    });
    expect(value[1]).toMatchObject({ health: 'unhealthy', consecutiveFailures: 1, lastError: failure });
    const text = JSON.stringify(response.jsonBody);
    const hashes = (await store.list()).map((s) => s.deleteTokenHash);
    for (const hidden of [a.secret, b.secret, ...hashes, 'FLOW-SIGNATURE-SECRET', 'sig=', 'etag']) {
      expect(text).not.toContain(hidden);
    }
  });
});
