/**
 * What the fuzz suites share: the seed, a raw HTTP client that can send anything (a body on GET, odd methods,
 * repeated headers) and reports a hang as such, the list of HTTP endpoints the local host serves, and the assertion
 * every answer must pass.
 */
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import type { Parameters as FcParameters } from 'fast-check';
import { expect } from 'vitest';
import type { RunningHost } from '../helpers/localHost.js';

/**
 * One seed for every property of the fuzz suites. fast-check prints it (with the path of the failing case) when a
 * property fails; `FUZZ_SEED=<seed> npx vitest run test/fuzz` replays that run.
 */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20_261_121);

/** Multiplies every property's number of runs: `FUZZ_SCALE=20` fuzzes longer than `npm run test:slow` does by default. */
const FUZZ_SCALE = Number(process.env.FUZZ_SCALE ?? 1);

/** A vitest timeout for a test that runs properties, long enough for `FUZZ_SCALE` times the runs. */
export const PROPERTY_TIMEOUT_MS = 60_000 * Math.max(1, FUZZ_SCALE);

/**
 * fast-check options: the fixed seed, and no shrinking. A request that hangs costs the whole timeout, so shrinking
 * one could take minutes; the seed and path reproduce the first counterexample exactly.
 */
export function fuzzOptions(numRuns: number): FcParameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(numRuns * FUZZ_SCALE)), endOnFailure: true };
}

/** How long any one request may take before it counts as a hang. */
export const HANG_MS = 15_000;

/** A request as the fuzzer builds it: anything HTTP/1.1 can carry. */
export interface RawRequest {
  method: string;
  /** Path and query, already encoded as they go on the wire. */
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer;
}

/** What came back. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * Sends `request` to `base` with node:http (fetch refuses a body on GET and some methods), and fails with a "hang"
 * error when there is no complete answer within {@link HANG_MS}.
 */
export function send(base: string, request: RawRequest): Promise<RawAnswer> {
  const url = new URL(base);
  const body = request.body ?? Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        headers: { ...request.headers, 'content-length': body.length },
        signal: AbortSignal.timeout(HANG_MS),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
        );
        response.on('error', (error) => reject(describeFailure(request, error)));
      },
    );
    outgoing.on('error', (error) => reject(describeFailure(request, error)));
    outgoing.end(body);
  });
}

function describeFailure(request: RawRequest, error: Error): Error {
  const what = `${request.method} ${request.path.slice(0, 200)}`;
  return error.name === 'AbortError'
    ? new Error(`hang: ${what} did not answer within ${HANG_MS / 1000} s`)
    : new Error(`${what} failed without an answer (a crash or a dropped connection?): ${error.message}`);
}

/** The connector's (and the local host's) error body. */
export interface ErrorBody {
  error: { code: string; message: string; target?: string };
}

/**
 * The contract every answer keeps, whatever was sent: never a 5xx, and a 4xx explains itself with
 * `{ "error": { "code", "message" } }` (a HEAD answer has no body to check).
 */
export function expectClearAnswer(answer: RawAnswer, request: RawRequest): void {
  const what = `${request.method} ${request.path.slice(0, 200)} → ${answer.status} ${answer.body.toString('utf8', 0, 300)}`;
  expect(answer.status, what).toBeGreaterThanOrEqual(200);
  expect(answer.status, what).toBeLessThan(500);
  if (answer.status >= 400 && request.method !== 'HEAD') {
    const error = errorOf(answer);
    expect(error, what).toBeDefined();
    expect(error?.code, what).toMatch(/^[A-Za-z]+$/);
    expect(error?.message.trim(), what).not.toBe('');
  }
}

/** The `error` of an error body, or undefined when the body is not one. */
export function errorOf(answer: RawAnswer): ErrorBody['error'] | undefined {
  try {
    const body = JSON.parse(answer.body.toString('utf8')) as Partial<ErrorBody>;
    const error = body?.error;
    return typeof error?.code === 'string' && typeof error.message === 'string' ? error : undefined;
  } catch {
    return undefined;
  }
}

/** An HTTP function as the host registered it. */
export interface HttpEndpoint {
  name: string;
  /** The route template without the `api/` prefix, e.g. `tables/{table}/rows/{id}`. */
  route: string;
  methods: string[];
  authLevel: string;
}

interface FunctionInfo {
  name: string;
  config: { bindings: { type: string; route?: string; methods?: string[]; authLevel?: string }[] };
}

/** Every HTTP function of the running host, read from `GET /admin/functions`, so a new one is fuzzed too. */
export async function httpEndpoints(host: RunningHost): Promise<HttpEndpoint[]> {
  const response = await host.request('/admin/functions');
  expect(response.status).toBe(200);
  const functions = (await response.json()) as FunctionInfo[];
  return functions.flatMap((f) => {
    const trigger = f.config.bindings.find((b) => b.type === 'httpTrigger');
    if (!trigger) return [];
    return [
      {
        name: f.name,
        route: trigger.route ?? f.name,
        methods: (trigger.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
        authLevel: (trigger.authLevel ?? 'function').toLowerCase(),
      },
    ];
  });
}

/** The route with each `{parameter}` (constraints and `?` included) replaced by `fill(name)`, already encoded. */
export function fillRoute(route: string, fill: (name: string) => string): string {
  return `/api/${route.replace(/\{\*?([A-Za-z_]\w*)(?::[a-z]+)?\??\}/g, (_, name: string) => fill(name))}`;
}
