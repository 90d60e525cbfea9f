import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Schema, validatorSchema } from '../../shared/connector/schemas.js';
import { REPO_ROOT, type RunningHost, startLocalHost } from '../helpers/localHost.js';

// ajv-formats is CommonJS with a default export; under NodeNext its callable is `.default`.
const addFormats = addFormatsModule as unknown as { default: (ajv: Ajv) => void };

interface SwaggerOperation {
  operationId: string;
  responses: Record<string, { schema?: Schema; headers?: Record<string, unknown> }>;
}
interface SwaggerDocument {
  swagger: string;
  host: string;
  basePath: string;
  paths: Record<string, Record<string, SwaggerOperation>>;
  definitions: Record<string, Schema>;
}
interface FunctionInfo {
  name: string;
  config: { bindings: { type: string; route?: string; methods?: string[] }[] };
}
interface Delivery {
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const CONTACT = '6d81597f-0f9f-e711-8122-000d3aa2331c';
const SAMPLE = readFileSync(join(REPO_ROOT, 'samples', 'contexts', 'msdocs-usewebhooks-update-contact.json'));
const OTHER_SAMPLE = readFileSync(join(REPO_ROOT, 'samples', 'contexts', 'albxrm-create-albxrm_alltypes.json'));

let host: RunningHost;
let definition: SwaggerDocument;
let callbacks: Server;
let callbackBase: string;
const deliveries: Delivery[] = [];
/** Operation ids whose 2xx body was validated against the served schema. */
const validated = new Set<string>();
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);

beforeAll(async () => {
  callbacks = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      deliveries.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((done) => callbacks.listen(0, '127.0.0.1', done));
  callbackBase = `http://127.0.0.1:${(callbacks.address() as AddressInfo).port}`;
  host = await startLocalHost();
});

afterAll(async () => {
  await host?.stop();
  callbacks?.closeAllConnections();
  await new Promise((done) => callbacks?.close(done));
});

/** Sends a request and checks its answer against what the served definition declares for that status. */
async function call(
  method: string,
  path: string,
  init: { body?: unknown; raw?: string | Buffer; contentType?: string; key?: string | null } = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const headers: Record<string, string> = {};
  let body: string | Buffer | undefined;
  if (init.raw !== undefined) {
    body = init.raw;
    headers['content-type'] = init.contentType ?? 'application/json';
  } else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] = 'application/json';
  }
  const response = await host.request(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    ...(init.key === undefined ? {} : { key: init.key }),
  });
  const text = await response.text();
  const parsed: unknown = text === '' ? undefined : JSON.parse(text);
  expectDeclared(method, path, response.status, parsed);
  return { status: response.status, body: parsed, headers: response.headers };
}

/** The definition's operation for a concrete request path, matched against its path templates. */
function operationFor(method: string, path: string): SwaggerOperation {
  const pathname = new URL(path, 'http://x').pathname.replace(/^\/api/, '');
  for (const [template, operations] of Object.entries(definition.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const operation = operations[method.toLowerCase()];
    if (pattern.test(pathname) && operation) return operation;
  }
  throw new Error(`The definition has no operation for ${method} ${pathname}`);
}

function expectDeclared(method: string, path: string, status: number, body: unknown): void {
  const operation = operationFor(method, path);
  const response = operation.responses[String(status)];
  expect(response, `${operation.operationId} declares status ${status}`).toBeDefined();
  if (!response?.schema) return;
  const validate = ajv.compile(validatorSchema(response.schema, definition.definitions));
  const valid = validate(body);
  expect(valid, `${operation.operationId} ${status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
  if (status < 300) validated.add(operation.operationId);
}

function sign(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

describe('the custom connector against the local host', () => {
  it('serves its definition anonymously, with the serving host', async () => {
    const response = await host.request('/api/openapi.json', { key: null });
    expect(response.status).toBe(200);
    definition = (await response.json()) as SwaggerDocument;
    expect(definition.swagger).toBe('2.0');
    expect(definition.host).toBe(new URL(host.url).host);
    expect(definition.basePath).toBe('/api');
  });

  it('declares exactly the HTTP functions the app registers, except the Dataverse webhook', async () => {
    const functions = (await (await host.request('/admin/functions')).json()) as FunctionInfo[];
    const served = functions.flatMap((f) => {
      const trigger = f.config.bindings.find((b) => b.type === 'httpTrigger');
      if (!trigger || f.name === 'dataverseWebhook') return [];
      return (trigger.methods ?? []).map((m) => `${m.toUpperCase()} /${trigger.route}`);
    });
    const declared = Object.entries(definition.paths).flatMap(([path, operations]) =>
      Object.keys(operations)
        .filter((key) => ['get', 'post', 'put', 'patch', 'delete'].includes(key))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(served.sort()).toEqual(declared.sort());
    expect(served).toHaveLength(20);
  });

  it('reports health anonymously', async () => {
    const { status, body } = await call('GET', '/api/health', { key: null });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'healthy',
      checks: { storage: { status: 'ok' }, eventGrid: { status: 'local' } },
    });
  });

  let secret: string;
  let location: string;
  let otherLocation: string;
  let proxiedLocation: URL;

  it('subscribes a webhook trigger: 201 with a Location that carries its own credential', async () => {
    const created = await call('POST', '/api/subscriptions', {
      body: { callbackUrl: `${callbackBase}/flow/contact?sig=FLOWSECRET`, table: 'contact', messages: 'Update,Create' },
    });
    expect(created.status).toBe(201);
    const view = created.body as { id: string; secret: string; tables: string[]; messages: string[] };
    expect(view).toMatchObject({ tables: ['contact'], messages: ['Update', 'Create'], health: 'healthy' });
    secret = view.secret;
    location = created.headers.get('location') as string;
    expect(location).toMatch(new RegExp(`^${host.url}/api/subscriptions/${view.id}\\?token=.+`));

    // Behind a proxy, the Location names the host the caller used.
    const proxied = await host.request('/api/subscriptions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-host': 'bridge.contoso.com' },
      body: JSON.stringify({ callbackUrl: `${callbackBase}/flow/proxied`, table: 'nosuchtable' }),
    });
    expect(proxied.headers.get('location')).toMatch(
      /^http:\/\/bridge\.contoso\.com\/api\/subscriptions\/[0-9a-f]{32}\?token=/,
    );
    proxiedLocation = new URL(proxied.headers.get('location') as string);

    const other = await call('POST', '/api/subscriptions', {
      body: { callbackUrl: `${callbackBase}/flow/account`, table: 'account' },
    });
    otherLocation = other.headers.get('location') as string;

    const list = await call('GET', '/api/subscriptions');
    const listed = (list.body as { value: { id: string; callbackUrl: string }[] }).value;
    expect(listed.map((s) => s.id)).toContain(view.id);
    expect(JSON.stringify(listed)).not.toContain('FLOWSECRET');
    expect(JSON.stringify(listed)).not.toContain(secret);
  });

  let eventId: string;

  it('a context sent to the webhook ends in the change log, the row snapshot and at the subscribed receiver', async () => {
    const sent = await host.request('/api/dataverse/webhook', {
      method: 'POST',
      body: SAMPLE,
      headers: { 'content-type': 'application/json' },
    });
    expect(sent.status).toBe(200);
    eventId = ((await sent.json()) as { eventId: string }).eventId;

    await expect.poll(() => deliveries.filter((d) => d.url.startsWith('/flow/')).length).toBe(1);
    const [delivery] = deliveries as [Delivery];
    expect(delivery.url).toBe('/flow/contact?sig=FLOWSECRET');
    expect(delivery.headers['x-bridge-signature-256']).toBe(sign(secret, delivery.body));
    expect(delivery.headers['x-bridge-event-id']).toBe(eventId);
    expect(delivery.headers['x-bridge-event-type']).toBe('dataverse.update');
    expect(delivery.headers['x-bridge-delivery-id']).toMatch(/^[0-9a-f-]{36}$/);
    const context = JSON.parse(delivery.body.toString('utf8'));
    expect(context).toMatchObject({ messageName: 'Update', primaryEntityName: 'contact', primaryEntityId: CONTACT });
    // The delivered payload is what the trigger's x-ms-notification-content declares.
    const notification = definition.paths['/subscriptions'] as unknown as {
      'x-ms-notification-content': { schema: Schema };
    };
    const validate = ajv.compile(
      validatorSchema(notification['x-ms-notification-content'].schema, definition.definitions),
    );
    expect(validate(context), ajv.errorsText(validate.errors)).toBe(true);

    const tables = await call('GET', '/api/tables');
    expect((tables.body as { value: { name: string }[] }).value.map((t) => t.name)).toContain('contact');

    const changes = await call('GET', '/api/tables/contact/changes?top=10');
    const logged = (changes.body as { value: { eventId: string; changedAttributes: string[] }[] }).value;
    expect(logged.map((c) => c.eventId)).toEqual([eventId]);
    expect(logged[0]?.changedAttributes).toContain('firstname');

    const row = await call('GET', `/api/tables/contact/rows/${CONTACT}`);
    expect(row.body).toMatchObject({ table: 'contact', id: CONTACT, deleted: false, lastEventId: eventId });
    expect((row.body as { attributes: Record<string, unknown> }).attributes.firstname).toBe('James');
  });

  it('publishes on demand through the same fan-out: change log, snapshot, delivery', async () => {
    const published = await call('POST', '/api/events', {
      body: { table: 'contact', rowId: CONTACT, message: 'Update', attributes: { firstname: 'Ada' } },
    });
    expect(published.status).toBe(202);
    const { eventId: onDemand } = published.body as { eventId: string };
    await expect.poll(() => deliveries.filter((d) => d.url.startsWith('/flow/contact')).length).toBe(2);
    expect(deliveries[1]?.headers['x-bridge-event-id']).toBe(onDemand);

    const row = await call('GET', `/api/tables/contact/rows/${CONTACT}`);
    expect((row.body as { attributes: Record<string, unknown> }).attributes.firstname).toBe('Ada');

    // Newest first, one per page, the second page through nextLink.
    const first = await call('GET', '/api/tables/contact/changes?top=1');
    const page = first.body as { value: { eventId: string }[]; nextLink?: string };
    expect(page.value.map((c) => c.eventId)).toEqual([onDemand]);
    const pages: string[] = [...page.value.map((c) => c.eventId)];
    let next = page.nextLink;
    while (next) {
      const url = new URL(next);
      expect(url.searchParams.has('code')).toBe(false);
      const more = await call('GET', `${url.pathname}${url.search}`);
      const body = more.body as { value: { eventId: string }[]; nextLink?: string };
      pages.push(...body.value.map((c) => c.eventId));
      next = body.nextLink;
    }
    expect(pages).toEqual([onDemand, eventId]);
  });

  it('answers unknown rows, bad parameters and bad bodies with the declared errors', async () => {
    expect((await call('GET', '/api/tables/contact/rows/00000000-0000-0000-0000-00000000abcd')).status).toBe(404);
    expect((await call('GET', '/api/tables/contact/changes?top=5000')).body).toMatchObject({
      error: { code: 'InvalidParameter', target: 'top' },
    });
    for (const list of ['/api/jobs', '/api/tables/contact/changes']) {
      expect((await call('GET', `${list}?continuation=bogus`)).body).toMatchObject({
        error: { code: 'InvalidParameter', target: 'continuation' },
      });
    }
    expect((await call('POST', '/api/events', { raw: '{"table": ' })).body).toMatchObject({
      error: { code: 'InvalidJson' },
    });
    expect((await call('POST', '/api/events', { raw: 'table=account', contentType: 'text/plain' })).status).toBe(415);
    const huge = JSON.stringify({
      table: 'account',
      rowId: CONTACT,
      message: 'Update',
      attributes: { x: 'y'.repeat(70_000) },
    });
    expect((await call('POST', '/api/events', { raw: huge })).status).toBe(413);
    expect(
      (await call('POST', '/api/events', { body: { table: 'account', rowId: CONTACT, mesage: 'Update' } })).body,
    ).toMatchObject({
      error: { code: 'InvalidBody' },
    });
    expect(
      (await call('POST', '/api/subscriptions', { body: { callbackUrl: 'http://example.com/hook' } })).body,
    ).toMatchObject({
      error: { code: 'InvalidCallbackUrl', target: 'callbackUrl' },
    });
  });

  it('lists jobs, shows one, and replays a rejected one', async () => {
    const jobs = await call('GET', '/api/jobs?top=50');
    const value = (jobs.body as { value: { id: string; eventId?: string; status: string }[] }).value;
    const published = value.find((job) => job.eventId === eventId);
    expect(published?.status).toBe('published');
    expect((await call('GET', `/api/jobs/${published?.id}`)).body).toMatchObject({
      id: published?.id,
      source: 'webhook',
    });
    expect((await call('POST', `/api/jobs/${published?.id}/replay`)).status).toBe(409);

    const bad = await host.request('/api/dataverse/webhook', {
      method: 'POST',
      body: readFileSync(join(REPO_ROOT, 'samples', 'bad', 'not-a-context.json')),
      headers: { 'content-type': 'application/json' },
    });
    const { jobId } = (await bad.json()) as { jobId: string };
    const replayed = await call('POST', `/api/jobs/${jobId}/replay`);
    expect(replayed.status).toBe(200);
    expect(replayed.body).toMatchObject({ jobId, status: 'rejected', error: { code: 'NotAContext' } });
    expect((await call('GET', `/api/jobs/${jobId}`)).body).toMatchObject({ status: 'rejected', attempts: 2 });
    expect((await call('GET', '/api/jobs/0123456789abcdef0123456789abcdef')).status).toBe(404);
  });

  it('removes the trigger with the Location URL alone; afterwards nothing is delivered to it', async () => {
    const url = new URL(location);
    expect((await call('DELETE', `${url.pathname}?token=wrong`, { key: null })).status).toBe(401);
    const deleted = await call('DELETE', `${url.pathname}${url.search}`, { key: null });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ deleted: true });
    expect((await call('DELETE', `${url.pathname}${url.search}`, { key: null })).status).toBe(404);
    const other = new URL(otherLocation);
    expect((await call('DELETE', `${other.pathname}${other.search}`, { key: null })).status).toBe(200);
    expect((await call('DELETE', `${proxiedLocation.pathname}${proxiedLocation.search}`, { key: null })).status).toBe(
      200,
    );
    expect((await call('GET', '/api/subscriptions')).body).toEqual({ value: [] });

    const before = deliveries.length;
    const sent = await host.request('/api/dataverse/webhook', {
      method: 'POST',
      body: OTHER_SAMPLE,
      headers: { 'content-type': 'application/json' },
    });
    expect(sent.status).toBe(200);
    // The fan-out ran before the webhook answered (in-process); the change log shows it, the receiver got nothing.
    const changes = await call('GET', '/api/tables/albxrm_alltypes/changes');
    expect((changes.body as { value: unknown[] }).value).toHaveLength(1);
    expect(deliveries.length).toBe(before);
  });

  it('validated a 2xx answer of every operation against the served definition', () => {
    // The Dataverse operations need the Dataverse double: dataverse.integration.test.ts validates them the same way.
    const all = Object.entries(definition.paths)
      .filter(([path]) => !path.startsWith('/dataverse/'))
      .flatMap(([, operations]) =>
        Object.values(operations)
          .filter((o) => typeof o === 'object' && o !== null && 'operationId' in o)
          .map((o) => o.operationId),
      );
    // GetApiDefinition is fetched raw above (it is the definition itself).
    expect([...validated, 'GetApiDefinition'].sort()).toEqual(all.sort());
  });
});
