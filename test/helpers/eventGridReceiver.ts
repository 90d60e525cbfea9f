import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EVENT_GRID_LIMITS } from '../../shared/events/types.js';
import { closeServer } from './ports.js';

/**
 * What the receiver does with one request, chosen by its index (0 for the first request it receives):
 * answer 200 (`'ok'`), answer 500 or 429 (with `Retry-After: 0`), never answer (`'hang'`, until `stop`), destroy the
 * socket without answering (`'drop'`), or answer 200 after `delayMs`.
 */
export type Fault = 'ok' | 500 | 429 | 'hang' | 'drop' | { delayMs: number };

/** A CloudEvent as the receiver parsed it from a request body. */
export interface ReceivedCloudEvent {
  specversion: string;
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  datacontenttype?: string;
  data?: unknown;
  [attribute: string]: unknown;
}

/** One request as the receiver saw it. */
export interface ReceivedRequest {
  /** The status answered; 0 when it never answered (`'hang'`, `'drop'`). */
  status: number;
  /** Events in the body (0 when the body is not a JSON array). */
  events: number;
  /** Bytes of the body. */
  bytes: number;
  contentType?: string;
}

/** A running local stand-in for an Event Grid topic's publish endpoint. */
export interface Receiver {
  /** `http://127.0.0.1:<port>/api/events`. */
  endpoint: string;
  /** The events of the requests it answered 200, in arrival order; a failed request's events were not accepted. */
  events: ReceivedCloudEvent[];
  requests: ReceivedRequest[];
  /** Every wire-format problem seen, as `request #<index>: <problem>`. A wrong key is not one (it is answered 401). */
  violations: string[];
  setFault(fault: (requestIndex: number) => Fault): void;
  /** Stops listening and closes every connection, hanging ones included. */
  stop(): Promise<void>;
}

const PATH = '/api/events';
const CONTENT_TYPE = 'application/cloudevents-batch+json; charset=utf-8';
/** RFC 3339, which Event Grid requires for `time`. */
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;
/** CloudEvents attribute names: lower-case ASCII letters and digits (`data_base64` is the one exception). */
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;

/**
 * Starts a receiver on 127.0.0.1 (a free port) that checks what a real client sends against Event Grid's publish
 * API for CloudEvents: `POST /api/events?api-version=…`, header `aeg-sas-key`, content type
 * `application/cloudevents-batch+json; charset=utf-8`, a JSON array body of at most 1 MB and 5,000 events, each a
 * valid CloudEvent 1.0. A request with a problem is recorded in `violations` and answered 400 (413 when too large),
 * as the service would refuse it.
 *
 * @example
 * const receiver = await startEventGridReceiver({ key: 'test-key' });
 * const publisher = new EventGridPublisher({ endpoint: receiver.endpoint, key: 'test-key' });
 * await publisher.send(events);
 * expect(receiver.violations).toEqual([]);
 * await receiver.stop();
 */
export async function startEventGridReceiver(options: {
  key: string;
  fault?: (requestIndex: number) => Fault;
  /** Called with the events of each request answered 200, as they are accepted (e.g. to time them). */
  onAccepted?: (events: readonly ReceivedCloudEvent[]) => void;
}): Promise<Receiver> {
  let fault = options.fault ?? (() => 'ok' as const);
  const events: ReceivedCloudEvent[] = [];
  const requests: ReceivedRequest[] = [];
  const violations: string[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((request, response) => {
    const index = requests.length;
    const contentType = request.headers['content-type'];
    const record: ReceivedRequest = { status: 0, events: 0, bytes: 0, ...(contentType ? { contentType } : {}) };
    requests.push(record);
    readBody(request).then(
      (body) => {
        record.bytes = body.length;
        const answer = (status: number, accepted: ReceivedCloudEvent[], headers: Record<string, string> = {}) => {
          record.status = status;
          const error = status === 200 ? undefined : errorBody(status);
          response.writeHead(status, { ...headers, ...(error ? { 'content-type': 'application/json' } : {}) });
          response.end(error);
          events.push(...accepted);
          if (accepted.length > 0) options.onAccepted?.(accepted);
        };
        if (request.headers['aeg-sas-key'] !== options.key) return answer(401, []);

        const problems: string[] = [];
        const parsed = checkRequest(request, body, problems);
        record.events = parsed.length;
        if (problems.length > 0) {
          violations.push(...problems.map((problem) => `request #${index}: ${problem}`));
          return answer(body.length > EVENT_GRID_LIMITS.maxRequestBytes ? 413 : 400, []);
        }

        const plan = fault(index);
        if (plan === 'ok') answer(200, parsed);
        else if (plan === 500) answer(500, []);
        else if (plan === 429) answer(429, [], { 'retry-after': '0' });
        else if (plan === 'drop') request.socket.destroy();
        else if (plan !== 'hang') {
          const timer = setTimeout(() => {
            timers.delete(timer);
            answer(200, parsed);
          }, plan.delayMs);
          timers.add(timer);
        }
      },
      () => response.destroy(),
    );
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}${PATH}`,
    events,
    requests,
    violations,
    setFault(next) {
      fault = next;
    },
    stop: () => closeServer(server, timers),
  };
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** An error body shaped like Event Grid's. */
function errorBody(status: number): string {
  const messages: Record<number, [string, string]> = {
    400: ['BadRequest', 'The request is not a valid CloudEvents batch.'],
    401: ['Unauthorized', 'The request authorization key is not authorized for this topic.'],
    413: ['RequestEntityTooLarge', 'The maximum size (1048576) has been exceeded.'],
    429: ['TooManyRequests', 'Too many requests. Retry later.'],
    500: ['InternalServerError', 'The service encountered an internal error.'],
  };
  const [code, message] = messages[status] ?? ['Error', `HTTP ${status}`];
  return JSON.stringify({ error: { code, message } });
}

/** Checks the request line, headers and body; returns the events when the body is a JSON array. */
function checkRequest(request: IncomingMessage, body: Buffer, problems: string[]): ReceivedCloudEvent[] {
  if (request.method !== 'POST') problems.push(`method is ${request.method}, expected POST`);
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname !== PATH) problems.push(`path is ${url.pathname}, expected ${PATH}`);
  if (!url.searchParams.get('api-version')) problems.push('query has no api-version');
  const contentType = request.headers['content-type'];
  if (contentType !== CONTENT_TYPE)
    problems.push(`content-type is ${contentType ?? '(none)'}, expected ${CONTENT_TYPE}`);
  if (body.length > EVENT_GRID_LIMITS.maxRequestBytes) {
    problems.push(`body is ${body.length} bytes, more than ${EVENT_GRID_LIMITS.maxRequestBytes}`);
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (error) {
    problems.push(`body is not UTF-8 JSON (${(error as Error).message})`);
    return [];
  }
  if (!Array.isArray(parsed)) {
    problems.push('body is not a JSON array');
    return [];
  }
  if (parsed.length > EVENT_GRID_LIMITS.maxEventsPerRequest) {
    problems.push(`body has ${parsed.length} events, more than ${EVENT_GRID_LIMITS.maxEventsPerRequest}`);
  }
  parsed.forEach((event: unknown, position) => {
    for (const problem of checkEvent(event)) problems.push(`event [${position}] ${problem}`);
  });
  return parsed as ReceivedCloudEvent[];
}

/** The problems of one CloudEvent 1.0 in structured JSON mode. */
function checkEvent(event: unknown): string[] {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return ['is not an object'];
  const attributes = event as Record<string, unknown>;
  const problems: string[] = [];
  if (attributes.specversion !== '1.0') problems.push(`has specversion ${JSON.stringify(attributes.specversion)}`);
  for (const name of ['id', 'source', 'type']) {
    const value = attributes[name];
    if (typeof value !== 'string' || value === '') problems.push(`has no ${name} (non-empty string)`);
  }
  for (const name of ['subject', 'time', 'datacontenttype', 'dataschema']) {
    if (name in attributes && typeof attributes[name] !== 'string') problems.push(`has a ${name} that is not a string`);
  }
  const time = attributes.time;
  if (typeof time === 'string' && !(RFC3339.test(time) && !Number.isNaN(Date.parse(time)))) {
    problems.push(`has time ${JSON.stringify(time)}, not an RFC 3339 date`);
  }
  if ('data' in attributes && 'data_base64' in attributes) problems.push('has both data and data_base64');
  for (const name of Object.keys(attributes)) {
    if (name !== 'data_base64' && !ATTRIBUTE_NAME.test(name)) problems.push(`has attribute "${name}" (not a-z0-9)`);
  }
  return problems;
}
