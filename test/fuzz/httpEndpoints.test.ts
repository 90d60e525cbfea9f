/**
 * Every HTTP endpoint of the real local host, found through `GET /admin/functions` (a new endpoint is fuzzed without
 * touching this file), against bad input: malformed and non-UTF-8 bodies, wrong content types, huge and deeply
 * nested bodies, wrong keys and prototype keys in otherwise valid bodies, odd query strings, wrong methods and wrong
 * function keys. Whatever arrives, the answer is a success or a 4xx that explains itself, in time, and the host
 * lives on.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations } from '../../shared/connector/operations.js';
import { definitions } from '../../shared/connector/schemas.js';
import { type RunningHost, startLocalHost } from '../helpers/localHost.js';
import {
  errorOf,
  expectClearAnswer,
  fillRoute,
  fuzzOptions,
  type HttpEndpoint,
  httpEndpoints,
  PROPERTY_TIMEOUT_MS,
  type RawAnswer,
  type RawRequest,
  send,
} from './client.js';
import {
  anyBody,
  badBody,
  contentTypes,
  DEEP_BODIES,
  HUGE_BODY,
  KEY_VARIANTS,
  METHODS,
  mutatedBody,
  oddHeaders,
  pathValue,
  queryString,
  rightKey,
  VALID_BODIES,
  withKey,
} from './inputs.js';

let host: RunningHost;
let endpoints: HttpEndpoint[];

beforeAll(async () => {
  host = await startLocalHost();
  endpoints = await httpEndpoints(host);
});

afterAll(async () => {
  await host?.stop();
});

/** The names of a route's parameters, in order. */
function parameterNames(route: string): string[] {
  return [...route.matchAll(/\{\*?([A-Za-z_]\w*)/g)].map((match) => match[1] as string);
}

/** A path of `endpoint` with plausible parameter values. */
function plausiblePath(endpoint: HttpEndpoint): string {
  return fillRoute(endpoint.route, (name) =>
    name === 'table' ? 'contact' : name === 'id' ? '0123456789abcdef0123456789abcdef' : 'x',
  );
}

/** The fields the connector declares for an operation's body (`shared/connector/operations.ts` and `schemas.ts`). */
function declaredFields(name: string): string[] {
  const body = operations.find((o) => o.name === name)?.body;
  return body ? Object.keys(definitions[body.definition].properties ?? {}) : [];
}

/** Whether the endpoint is a connector operation that declares a JSON body (the webhook reads contexts instead). */
function readsJsonBody(endpoint: HttpEndpoint): boolean {
  return operations.some((o) => o.name === endpoint.name && o.body);
}

/** A body the handler checks against Dataverse metadata rather than a declared schema (a row). */
function rowBody(endpoint: HttpEndpoint): boolean {
  return operations.some((o) => o.name === endpoint.name && o.body?.checkedByHandler === true);
}

/** Sends a request with the key as `variant` says and checks the contract every answer keeps. */
async function attempt(
  request: RawRequest & { headers?: Record<string, string> },
  variant = 'header',
): Promise<RawAnswer> {
  const keyed = { ...request, ...withKey(variant, host.key, request.path, request.headers) };
  const answer = await send(host.url, keyed);
  expectClearAnswer(answer, keyed);
  return answer;
}

/**
 * A webhook post Dataverse could not have meant answers 400 and leaves a `rejected` job with its reason, which
 * `GET /api/jobs/{jobId}` shows.
 */
async function expectRejectedJob(answer: RawAnswer): Promise<void> {
  const body = JSON.parse(answer.body.toString('utf8')) as { jobId?: string };
  expect(body.jobId, answer.body.toString('utf8', 0, 300)).toMatch(/^[0-9a-f]{32}$/);
  const job = await host.request(`/api/jobs/${body.jobId}`);
  expect(job.status).toBe(200);
  const record = (await job.json()) as { status: string; error?: { code: string; message: string } };
  expect(record.status).toBe('rejected');
  expect(record.error?.code).toMatch(/^[A-Za-z]+$/);
  expect(record.error?.message.trim()).not.toBe('');
}

/** One fuzzed request to one endpoint: a method (often a wrong one), parameters, a query, headers, a body, a key. */
function fuzzedRequest(endpoint: HttpEndpoint) {
  const names = parameterNames(endpoint.route);
  return fc.record({
    method: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...endpoint.methods) },
      { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
    ),
    path: fc
      .tuple(...names.map((name) => pathValue(name)))
      .map((values) => fillRoute(endpoint.route, (name) => values[names.indexOf(name)] as string)),
    query: queryString,
    contentType: contentTypes,
    headers: oddHeaders,
    body: anyBody(VALID_BODIES[endpoint.name]),
    key: fc.oneof(
      { weight: 4, arbitrary: fc.constant('header') },
      { weight: 1, arbitrary: fc.constantFrom(...KEY_VARIANTS) },
    ),
  });
}

describe('fuzz: every HTTP endpoint of the local host', () => {
  it('finds the HTTP functions through the admin API', () => {
    expect(endpoints.map((e) => e.name)).toEqual(expect.arrayContaining(['dataverseWebhook', 'publishEvent']));
    expect(endpoints.length).toBeGreaterThanOrEqual(13);
    // An operation that takes a body needs a valid one in inputs.ts, for the mutations to start from.
    expect(endpoints.filter(readsJsonBody).filter((e) => !VALID_BODIES[e.name])).toEqual([]);
  });

  it(
    'answers any request to any endpoint with a success or a clear 4xx, in time',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...endpoints).chain((endpoint) => fc.tuple(fc.constant(endpoint), fuzzedRequest(endpoint))),
          async ([endpoint, r]) => {
            const answer = await attempt(
              {
                method: r.method,
                path: `${r.path}${r.query}`,
                headers: { ...r.headers, ...(r.contentType === undefined ? {} : { 'content-type': r.contentType }) },
                ...(r.body ? { body: r.body } : {}),
              },
              r.key,
            );
            if (endpoint.authLevel !== 'anonymous' && !rightKey(r.key))
              expect([401, 404, 405]).toContain(answer.status);
            if (endpoint.name === 'dataverseWebhook' && answer.status === 400) await expectRejectedJob(answer);
          },
        ),
        fuzzOptions(400),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('refuses a missing, wrong or empty key with 401 on every function-level endpoint', async () => {
    for (const endpoint of endpoints.filter((e) => e.authLevel !== 'anonymous')) {
      for (const variant of KEY_VARIANTS.filter((v) => !rightKey(v))) {
        for (const method of endpoint.methods) {
          const answer = await attempt({ method, path: plausiblePath(endpoint) }, variant);
          expect(answer.status, `${endpoint.name} ${variant}`).toBe(401);
          expect(errorOf(answer)?.code).toBe('Unauthorized');
        }
      }
    }
    // The admin API too.
    expect((await attempt({ method: 'GET', path: '/admin/functions' }, 'wrong query')).status).toBe(401);
    const invoke = { method: 'POST', path: '/admin/functions/dataverseQueue', body: Buffer.from('{"input":"x"}') };
    expect((await attempt(invoke, 'none')).status).toBe(401);
  });

  it('answers wrong methods with 405 on every endpoint', async () => {
    for (const endpoint of endpoints) {
      // Another function may serve the same route with another method (GET and POST /api/subscriptions).
      const served = endpoints.filter((e) => e.route === endpoint.route).flatMap((e) => e.methods);
      for (const method of METHODS.filter((m) => !served.includes(m))) {
        const answer = await attempt({ method, path: plausiblePath(endpoint) });
        expect(answer.status, `${method} ${endpoint.name}`).toBe(405);
      }
    }
  });

  it('answers a body of a few MB with 413 where a body is read, and without failing elsewhere', async () => {
    for (const endpoint of endpoints) {
      for (const method of endpoint.methods) {
        const answer = await attempt({
          method,
          path: plausiblePath(endpoint),
          headers: { 'content-type': 'application/json' },
          body: HUGE_BODY,
        });
        if (readsJsonBody(endpoint)) {
          expect(answer.status, endpoint.name).toBe(413);
          expect(errorOf(answer)?.code).toBe('PayloadTooLarge');
        }
        if (endpoint.name === 'dataverseWebhook') {
          expect(answer.status).toBe(400);
          await expectRejectedJob(answer);
        }
      }
    }
  });

  it('answers deeply nested bodies (100,000 levels) clearly on every endpoint', async () => {
    for (const endpoint of endpoints) {
      for (const [name, body] of Object.entries(DEEP_BODIES)) {
        for (const method of endpoint.methods) {
          const answer = await attempt({
            method,
            path: plausiblePath(endpoint),
            headers: { 'content-type': 'application/json' },
            body,
          });
          // Refused as too large (over the operation's limit) or as not valid, never read into a crash.
          if (readsJsonBody(endpoint) || endpoint.name === 'dataverseWebhook') {
            expect([400, 413], `${endpoint.name}: ${name}`).toContain(answer.status);
          }
          if (endpoint.name === 'dataverseWebhook') await expectRejectedJob(answer);
        }
      }
    }
  });

  it(
    'answers every body that is not JSON with 415, 400 or 413 on the operations that read one',
    async () => {
      // Row bodies (createDataverseRow, updateDataverseRow) are Dataverse rows whose columns come from the table's
      // metadata, so any column name is declared there: the handler checks them against Dataverse, not a schema.
      const readers = endpoints.filter(readsJsonBody).filter((e) => !rowBody(e));
      await fc.assert(
        fc.asyncProperty(
          fc
            .constantFrom(...readers)
            .chain((endpoint) => fc.tuple(fc.constant(endpoint), contentTypes, badBody(VALID_BODIES[endpoint.name]))),
          async ([endpoint, contentType, body]) => {
            const answer = await attempt({
              method: endpoint.methods[0] as string,
              path: plausiblePath(endpoint),
              headers: contentType === undefined ? {} : { 'content-type': contentType },
              body,
            });
            // A mutation may leave a valid body (e.g. an optional field removed): then it is accepted.
            expect([200, 201, 202, 400, 413, 415], endpoint.name).toContain(answer.status);
          },
        ),
        fuzzOptions(150),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'refuses wrong keys, wrong types, extra properties and prototype keys in bodies with 400 InvalidBody',
    async () => {
      // Row bodies (createDataverseRow, updateDataverseRow) are Dataverse rows whose columns come from the table's
      // metadata, so any column name is declared there: the handler checks them against Dataverse, not a schema.
      const readers = endpoints.filter(readsJsonBody).filter((e) => !rowBody(e));
      await fc.assert(
        fc.asyncProperty(
          fc
            .constantFrom(...readers)
            .chain((endpoint) =>
              fc.tuple(fc.constant(endpoint), mutatedBody(VALID_BODIES[endpoint.name] as Record<string, unknown>)),
            ),
          async ([endpoint, body]) => {
            const answer = await attempt({
              method: endpoint.methods[0] as string,
              path: plausiblePath(endpoint),
              headers: { 'content-type': 'application/json' },
              body,
            });
            if (answer.status < 300) {
              // A mutation may leave a valid body (an optional field removed), never one with a field not declared.
              const sent = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
              const declared = declaredFields(endpoint.name);
              expect(Object.keys(sent).filter((name) => !declared.includes(name))).toEqual([]);
              return;
            }
            expect(answer.status, body.toString('utf8', 0, 200)).toBe(400);
            expect(errorOf(answer)?.code).toMatch(/^Invalid/);
          },
        ),
        fuzzOptions(150),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'rejects any bad Dataverse webhook body with 400 and a rejected job that says why',
    async () => {
      const webhook = endpoints.find((e) => e.name === 'dataverseWebhook') as HttpEndpoint;
      await fc.assert(
        fc.asyncProperty(contentTypes, badBody(VALID_BODIES.dataverseWebhook), async (contentType, body) => {
          const answer = await attempt({
            method: 'POST',
            path: plausiblePath(webhook),
            headers: contentType === undefined ? {} : { 'content-type': contentType },
            body,
          });
          // A mutation may leave a readable context (an optional property removed): then it is published.
          expect([200, 400]).toContain(answer.status);
          if (answer.status === 400) await expectRejectedJob(answer);
        }),
        fuzzOptions(80),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('answers malformed percent escapes in a path clearly (they used to throw URIError: 500)', async () => {
    for (const path of ['/api/tables/%/changes', '/api/tables/contact/rows/%E0%A4%A', '/api/jobs/%C3%28/replay']) {
      const answer = await attempt({ method: path.endsWith('replay') ? 'POST' : 'GET', path });
      expect([400, 404], path).toContain(answer.status);
    }
    const admin = await attempt({ method: 'POST', path: '/admin/functions/%C3%28', body: Buffer.from('{"input":1}') });
    expect(admin.status).toBe(404);
  });

  it(
    'answers malformed admin paths clearly',
    async () => {
      await fc.assert(
        fc.asyncProperty(pathValue('name'), fc.constantFrom('GET', 'POST'), async (name, method) => {
          await attempt({ method, path: `/admin/functions/${name}`, body: Buffer.from('{"input":"x"}') });
        }),
        fuzzOptions(40),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('is still alive and healthy after all of it', async () => {
    const health = await host.request('/api/health', { key: null });
    expect(health.status).toBe(200);
    expect(host.output()).not.toMatch(/unhandled error|InternalError/);
  });
});
