import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
// @azure/functions is a webpack-bundled CommonJS module: Node's ESM loader finds only some of its named exports.
import azureFunctions, { type HttpResponseInit } from '@azure/functions';
import type { LocalFanOut } from './localFanOut.js';
import { invocationContext } from './localFanOut.js';
import type { Registration } from './registrations.js';
import { compileRoute, decodePathSegment, type RouteTemplate } from './routes.js';
import { timerInput } from './timers.js';

const { HttpRequest, HttpResponse } = azureFunctions;

/** The Functions host's default limit for a request body. */
const MAX_BODY_BYTES = 100 * 1024 * 1024;

export interface LocalHostOptions {
  registrations: readonly Registration[];
  /** Accepted as `?code=` or `x-functions-key` by function- and admin-level endpoints. */
  key: string;
  fanOut?: LocalFanOut;
  log: (line: string) => void;
  routePrefix?: string;
  /**
   * The largest body each HTTP function reads, by function name (0: it takes none, so none is read). A larger body is
   * answered 413 as soon as it passes the limit, before the rest arrives. Functions not listed get the host's 100 MB.
   */
  bodyLimits?: Readonly<Record<string, number>>;
}

interface HttpRoute {
  registration: Registration;
  route: RouteTemplate;
  methods: string[];
  authLevel: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The local host's HTTP server: the app's HTTP triggers at `/<routePrefix>/<route>` with their methods and auth
 * levels, and the Functions host's admin contract for everything else (`GET /admin/functions`,
 * `POST /admin/functions/<name>` with `{"input": …}`), plus `GET /admin/events` for the local fan-out.
 */
export function createLocalHostServer(options: LocalHostOptions): Server {
  const prefix = options.routePrefix ?? 'api';
  const routes: HttpRoute[] = options.registrations
    .filter((r) => r.trigger.type === 'httpTrigger')
    .map((registration) => ({
      registration,
      route: compileRoute(String(registration.trigger.route ?? registration.name)),
      methods: ((registration.trigger.methods as string[] | undefined) ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
      authLevel: String(registration.trigger.authLevel ?? 'function').toLowerCase(),
    }));

  return createServer((req, res) => {
    const started = performance.now();
    const url = requestUrl(req);
    (url ? handle(req, res, url) : Promise.reject(MALFORMED_URL))
      .catch((error: unknown) => {
        if (isClientGone(req, error)) {
          // Not a fault of the app: the client hung up (or reset) before its request was complete.
          options.log('  the client closed the connection before the request was complete');
          return;
        }
        const known = error instanceof HttpError ? error : undefined;
        if (!known) options.log(`  unhandled error: ${(error as Error).stack ?? String(error)}`);
        if (error === MALFORMED_URL) res.shouldKeepAlive = false;
        if (!res.headersSent) {
          sendJson(res, known?.status ?? 500, {
            error: {
              code: known?.code ?? 'InternalError',
              message: known?.message ?? 'The function failed; see the local host output.',
            },
          });
        } else res.end();
      })
      .finally(() => {
        // The path only: the query string may carry the key (?code=).
        const path = url?.pathname ?? '(malformed request target or Host)';
        options.log(`${req.method} ${path} ${res.statusCode} ${Math.round(performance.now() - started)} ms`);
      });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (path === '/admin/functions' && req.method === 'GET') {
      requireKey(req, url);
      return sendJson(
        res,
        200,
        options.registrations.map((r) => describe(r, url)),
      );
    }
    if (path === '/admin/events' && req.method === 'GET') {
      requireKey(req, url);
      return sendJson(res, 200, { value: options.fanOut?.events() ?? [] });
    }
    const admin = /^\/admin\/functions\/([^/]+)$/.exec(path);
    if (admin && req.method === 'POST') {
      requireKey(req, url);
      return invokeNonHttp(decodePathSegment(admin[1] as string), await readBody(req, res, MAX_BODY_BYTES), res);
    }
    const routed = path.toLowerCase().startsWith(`/${prefix}/`) ? path.slice(prefix.length + 2) : undefined;
    if (routed !== undefined) {
      let methodMismatch = false;
      let keyed = false;
      for (const candidate of routes) {
        const params = candidate.route.match(routed);
        if (!params) continue;
        if (!candidate.methods.includes(req.method ?? 'GET')) {
          methodMismatch = true;
          keyed ||= candidate.authLevel !== 'anonymous';
          continue;
        }
        if (candidate.authLevel !== 'anonymous') requireKey(req, url);
        const limit = options.bodyLimits?.[candidate.registration.name] ?? MAX_BODY_BYTES;
        return invokeHttp(candidate.registration, req, res, url, params, await readBody(req, res, limit));
      }
      // Without the key, a keyed route does not say which methods it serves: 401 first, as for any keyed request.
      if (keyed) requireKey(req, url);
      if (methodMismatch) throw new HttpError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${path}.`);
    }
    throw new HttpError(404, 'NotFound', `No function serves ${req.method} ${path}.`);
  }

  function requireKey(req: IncomingMessage, url: URL): void {
    const header = req.headers['x-functions-key'];
    const given = url.searchParams.get('code') ?? (Array.isArray(header) ? header[0] : header);
    if (given === undefined || !sameSecret(given, options.key)) {
      throw new HttpError(
        401,
        'Unauthorized',
        'A function key is required: pass it as ?code= or the x-functions-key header.',
      );
    }
  }

  async function invokeHttp(
    registration: Registration,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    params: Record<string, string>,
    body: Buffer,
  ): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request = new HttpRequest({
      method: req.method ?? 'GET',
      url: url.href,
      headers,
      params,
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    });
    const result = await registration.handler(request, invocationContext(registration, options.log));
    const response = result instanceof HttpResponse ? result : new HttpResponse((result ?? {}) as HttpResponseInit);
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      out[name] = value;
    });
    res.writeHead(response.status, out);
    res.end(Buffer.from(await response.arrayBuffer()));
  }

  async function invokeNonHttp(name: string, body: Buffer, res: ServerResponse): Promise<void> {
    const registration = options.registrations.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (!registration) throw new HttpError(404, 'NotFound', `No function named ${name}.`);
    if (registration.trigger.type === 'httpTrigger') {
      throw new HttpError(400, 'HttpFunction', `${registration.name} is an HTTP function; call its route instead.`);
    }
    const [input, triggerMetadata] = triggerInput(registration, adminMessages(registration, body));
    let result: unknown;
    try {
      result = await registration.handler(input, invocationContext(registration, options.log, triggerMetadata));
    } catch (error) {
      // As under the real host, a failed invocation is reported; a Service Bus message would be redelivered.
      return sendJson(res, 500, { error: { code: 'FunctionFailed', message: (error as Error).message } });
    }
    // A local-host extension: what the function returned (the Service Bus functions: each message's outcome).
    if (result !== null && typeof result === 'object') return sendJson(res, 202, result);
    res.writeHead(202).end();
  }
}

/** What is read and thrown away of a body left unread, after the answer, before the connection is closed. */
const LINGER_BYTES = 1024 * 1024;
const LINGER_MS = 2_000;

/**
 * The request body, read only up to `limit` bytes. With a limit of 0 (the function takes no body) nothing is read;
 * over the limit, by `Content-Length` or while streaming, it answers 413 at once. Either way a body left unread is
 * not drained: see {@link closeAfterAnswer}.
 */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const hasBody = declared > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return Promise.resolve(Buffer.alloc(0));
  if (limit === 0) {
    closeAfterAnswer(req, res);
    return Promise.resolve(Buffer.alloc(0));
  }
  const tooLarge = () => {
    closeAfterAnswer(req, res);
    req.pause();
    return new HttpError(
      413,
      'PayloadTooLarge',
      `The body is larger than ${limit} bytes, the most this operation accepts.`,
    );
  };
  if (declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        reject(tooLarge());
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    const onClose = () => {
      stop();
      if (!req.complete) reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

const MALFORMED_URL = new HttpError(
  400,
  'BadRequest',
  'The request target or the Host header is not a valid URL authority: send a path such as /api/health and a Host such as localhost:7071.',
);

/** The request's URL, or undefined when its target or Host header cannot form one (a lone `[`, a bad port…). */
function requestUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', `http://${req.headers.host || 'localhost'}`);
  } catch {
    return undefined;
  }
}

/** Whether an error only means the client went away before its request was complete. */
function isClientGone(req: IncomingMessage, error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ECONNABORTED' || (req.destroyed && !req.complete);
}

/**
 * Once the answer has gone out, throws away at most {@link LINGER_BYTES} more of an unread body (for at most
 * {@link LINGER_MS}), then closes the connection. Closing at once would reset it while the client is still sending,
 * and a reset can discard the answer before the client reads it; a client that reads the answer stops sending.
 */
function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.once('finish', () => {
    if (req.complete) return;
    let discarded = 0;
    const close = () => {
      clearTimeout(timer);
      req.socket.destroy();
    };
    const timer = setTimeout(close, LINGER_MS);
    // The server has already set the body flowing into nothing; this only counts it.
    req.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER_BYTES) close();
    });
    req.once('end', () => clearTimeout(timer));
  });
}

/**
 * One message of an admin invoke: the Functions host's `{"input": …}`, plus optional Service Bus message facts the
 * real host would take from the message (a local-host extension, so `dataverse-bridge send --queue` can post as
 * Dataverse does).
 */
export interface AdminMessage {
  input: unknown;
  contentType?: string;
  messageId?: string;
  deliveryCount?: number;
  applicationProperties?: Record<string, unknown>;
}

/**
 * The admin invoke body: one message, or (a local-host extension) `{"messages": [AdminMessage, …]}`, a batch for a
 * Service Bus trigger with cardinality "many", delivered in one invocation as Service Bus would.
 */
export type AdminInvokeRequest = AdminMessage | { messages: AdminMessage[] };

/** The messages of an admin invoke body, or a 400 that says what is wrong with it. */
function adminMessages(registration: Registration, body: Buffer): AdminMessage[] {
  let request: unknown;
  try {
    request = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'InvalidBody', 'The body must be JSON: {"input": …}.');
  }
  const isMessage = (value: unknown): value is AdminMessage =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && 'input' in value;
  if (isMessage(request)) return [request];
  const batch =
    typeof request === 'object' && request !== null ? (request as { messages?: unknown }).messages : undefined;
  if (!Array.isArray(batch)) {
    throw new HttpError(400, 'InvalidBody', 'The body must be JSON with an "input" property (or "messages": […]).');
  }
  const { trigger } = registration;
  if (trigger.type !== 'serviceBusTrigger' || trigger.cardinality !== 'many') {
    throw new HttpError(
      400,
      'InvalidBody',
      `${registration.name} takes one message per invocation: send {"input": …}, not "messages".`,
    );
  }
  const position = batch.findIndex((message) => !isMessage(message));
  if (batch.length === 0 || position >= 0) {
    throw new HttpError(
      400,
      'InvalidBody',
      batch.length === 0
        ? '"messages" is empty: send at least one {"input": …}.'
        : `"messages"[${position}] must be an object with an "input" property.`,
    );
  }
  return batch as AdminMessage[];
}

/** The trigger input and metadata the host would pass for these messages, in the shape the trigger's options ask for. */
function triggerInput(registration: Registration, messages: AdminMessage[]): [unknown, Record<string, unknown>] {
  const first = messages[0] as AdminMessage;
  // A timer function is handed the Timer the host would pass; an admin invoke of one is a run "now".
  if (registration.trigger.type === 'timerTrigger') return [timerInput(), {}];
  if (registration.trigger.type !== 'serviceBusTrigger') return [first.input, {}];
  const bodies = messages.map((m) =>
    Buffer.from(typeof m.input === 'string' ? m.input : serializedInput(m.input), 'utf8'),
  );
  const facts = messages.map((m) => ({
    messageId: m.messageId ?? randomUUID(),
    deliveryCount: m.deliveryCount ?? 1,
    contentType: m.contentType ?? 'application/json',
    // The @azure/functions library camelCases the keys of trigger metadata; do the same.
    applicationProperties: camelCaseKeys(m.applicationProperties ?? {}),
  }));
  if (registration.trigger.cardinality === 'many') {
    const names = Object.keys(facts[0] as object) as (keyof (typeof facts)[number])[];
    return [bodies, Object.fromEntries(names.map((name) => [`${name}Array`, facts.map((f) => f[name])]))];
  }
  return [bodies[0], facts[0] as Record<string, unknown>];
}

/** A parsed `input` as the JSON text of a message body; one nested too deeply to serialize is a 400, not a 500. */
function serializedInput(input: unknown): string {
  try {
    return JSON.stringify(input);
  } catch {
    throw new HttpError(400, 'InvalidBody', '"input" is nested too deeply to serialize; send the body as a string.');
  }
}

function camelCaseKeys(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [key.charAt(0).toLowerCase() + key.slice(1), value]),
  );
}

function describe(registration: Registration, url: URL): Record<string, unknown> {
  const { trigger } = registration;
  const invoke =
    trigger.type === 'httpTrigger'
      ? `${url.origin}/api/${String(trigger.route ?? registration.name)}`
      : `${url.origin}/admin/functions/${registration.name}`;
  return {
    name: registration.name,
    config: { bindings: Object.values(registration.bindings) },
    invoke_url_template: invoke,
    isDisabled: false,
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
