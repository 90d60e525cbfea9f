import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DATAVERSE_HEADERS, DATAVERSE_PROPERTIES } from '../../shared/dataverse/transport.js';
import { appRoot, configuredLocalKey } from '../localhost/settings.js';
import type { Writable } from './output.js';
import {
  type OutboundMessage,
  openServiceBusSender,
  type QueueSender,
  redactConnectionString,
  type SendOutcome,
  ServiceBusConnectionError,
} from './serviceBusSender.js';

/** Options of `dataverse-bridge send`. */
export interface SendOptions {
  /** Base URL of the Functions host (default `http://localhost:7071`). */
  to?: string;
  /** Webhook: the function key (`?code=`). Local queue: the host key (`x-functions-key`). */
  key?: string;
  /** `true` (flag without a name) or the queue name: send to the queue function instead of the webhook. */
  queue?: string | boolean;
  /** A Service Bus connection string: send to that namespace's queue `queue` with `@azure/service-bus`. */
  serviceBus?: string;
  /** The environment's domain, e.g. `contoso.crm.dynamics.com` (default: derived from `OrganizationName`). */
  organization?: string;
  /** The settings file a key is read from when there is no `--key` (default: as `npm start` chooses it). */
  settings?: string;
  /** Give each context new operation and correlation ids, so a re-send is a new event rather than a duplicate. */
  fresh?: boolean;
}

/** What `runSend` uses from outside, replaceable in tests. */
export interface SendDeps {
  /** Opens the Service Bus sender (default: the `@azure/service-bus` adapter). */
  openQueueSender?: (connectionString: string, queueName: string) => Promise<QueueSender>;
  /** Per-request timeout of the HTTP modes (default 30 s). */
  timeoutMs?: number;
}

/** The queue the local host's `dataverseQueue` function stands for. */
const LOCAL_QUEUE_NAME = 'dataverse';
const DEFAULT_TO = 'http://localhost:7071';
const DEFAULT_ORGANIZATION = 'contoso.crm.dynamics.com';
const EXIT_OK = 0;
const EXIT_SOME_FAILED = 1;
const EXIT_USAGE = 2;

/** A usage error: reported as `error: …`, exit code 2, nothing sent. */
class UsageError extends Error {
  override name = 'UsageError';
}

/** One file to send. */
interface ContextFile {
  path: string;
  name: string;
  bytes: Buffer;
  facts: ContextFacts;
}

/** What a context says about itself, as far as it could be read (bad input has none of it). */
interface ContextFacts {
  organization: string;
  messageName?: string;
  primaryEntityName?: string;
  correlationId?: string;
  userId?: string;
  initiatingUserId?: string;
  initiatingUserAgent?: string;
}

/** The result of sending one file. */
interface Delivery {
  accepted: boolean;
  /** What the progress line shows after the arrow: `200 published`, `400 NotAContext: …`, `failed: ECONNREFUSED`. */
  detail: string;
  connectionRefused?: boolean;
}

/**
 * `dataverse-bridge send`: posts Dataverse execution contexts (files, or every `*.json` in a folder) the way
 * Dataverse does: to the webhook function, to the local host's queue function, or to a real Service Bus queue.
 * Files are sent byte-for-byte, bad input included. Writes a progress line per file to `err` and
 * `sent N, accepted A, failed F` to `out`.
 * Returns the exit code: 0 all accepted, 1 some failed, 2 a usage error (nothing was sent).
 *
 * @example
 * const code = await runSend(['samples/contexts'], { queue: true, key: 'local' }, process.stdout, process.stderr);
 */
export async function runSend(
  paths: readonly string[],
  options: SendOptions,
  out: Writable,
  err: Writable,
  deps: SendDeps = {},
): Promise<number> {
  const connectionString = options.serviceBus;
  try {
    const plan = resolveMode(paths, options);
    const files = await loadFiles(plan.paths, options.organization, options.fresh === true);
    if (plan.note) err.write(`${plan.note}\n`);
    const deliveries =
      plan.mode === 'service-bus'
        ? await sendToServiceBus(files, plan.connectionString, plan.queueName, err, deps)
        : await sendOverHttp(
            files,
            plan,
            options.key ?? localHostKey(plan.to, options.settings),
            err,
            deps.timeoutMs ?? 30_000,
          );
    const accepted = deliveries.filter((delivery) => delivery.accepted).length;
    out.write(`sent ${files.length}, accepted ${accepted}, failed ${files.length - accepted}\n`);
    return accepted === files.length ? EXIT_OK : EXIT_SOME_FAILED;
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof ServiceBusConnectionError)) throw error;
    const message = connectionString ? redactConnectionString(error.message, connectionString) : error.message;
    err.write(`error: ${message}\n`);
    return EXIT_USAGE;
  }
}

type Plan =
  | { mode: 'webhook' | 'local-queue'; paths: string[]; to: URL; note?: string }
  | { mode: 'service-bus'; paths: string[]; connectionString: string; queueName: string; note?: string };

function resolveMode(paths: readonly string[], options: SendOptions): Plan {
  const all = [...paths];
  let queue = options.queue;
  if (options.serviceBus !== undefined) {
    if (options.serviceBus.trim() === '') throw new UsageError('--service-bus needs a connection string');
    if (typeof queue !== 'string' || queue.trim() === '') {
      throw new UsageError('--service-bus needs --queue <name>: the queue the Dataverse service endpoint posts to');
    }
    return { mode: 'service-bus', paths: all, connectionString: options.serviceBus, queueName: queue.trim() };
  }
  // `send --queue samples/` reads the path as the queue's name (the option takes an optional value). Locally the
  // name is not used, so a name that is an existing file or folder is taken for what the user meant: a path.
  if (typeof queue === 'string' && existsSync(queue)) {
    all.unshift(queue);
    queue = true;
  }
  const to = parseBaseUrl(options.to ?? DEFAULT_TO);
  if (queue === undefined || queue === false) return { mode: 'webhook', paths: all, to };
  const note =
    typeof queue === 'string' && queue !== LOCAL_QUEUE_NAME
      ? `note: the local host feeds the dataverseQueue function directly; the queue name "${queue}" is not used.`
      : undefined;
  return { mode: 'local-queue', paths: all, to, ...(note ? { note } : {}) };
}

function parseBaseUrl(text: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // reported below
  }
  // `localhost:7071` parses too, as the scheme "localhost:".
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new UsageError(`--to must be an http(s) URL such as ${DEFAULT_TO}, got "${text}"`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url;
}

/**
 * The key `npm start` would accept, read from its settings the same way, for a host on this machine only: another
 * host never gets the local key.
 */
function localHostKey(to: URL, settingsFile: string | undefined): string | undefined {
  if (!['localhost', '127.0.0.1', '[::1]'].includes(to.hostname)) return undefined;
  try {
    return configuredLocalKey(appRoot(dirname(fileURLToPath(import.meta.url))), settingsFile);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * Expands folders (their `*.json` files, sorted) and reads every file. Missing paths are usage errors. With `fresh`,
 * each context gets new operation and correlation ids (see {@link freshened}).
 */
async function loadFiles(
  paths: readonly string[],
  organization: string | undefined,
  fresh = false,
): Promise<ContextFile[]> {
  if (paths.length === 0) throw new UsageError('no files to send: name one or more context files or folders');
  const files: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${path}: ${error.code ?? error.message}`);
    });
    if (!info.isDirectory()) {
      files.push(path);
      continue;
    }
    const entries = await readdir(path, { withFileTypes: true });
    files.push(
      ...entries
        .filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith('.json'))
        .map((entry) => entry.name)
        .sort()
        .map((name) => join(path, name)),
    );
  }
  if (files.length === 0) throw new UsageError(`no *.json files in ${paths.join(', ')}`);
  const loaded: ContextFile[] = [];
  for (const path of files) {
    const read = await readFile(path).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${path}: ${error.code ?? error.message}`);
    });
    const bytes = fresh ? freshened(read) : read;
    loaded.push({ path, name: basename(path), bytes, facts: contextFacts(bytes, organization) });
  }
  return loaded;
}

/**
 * The context as a new execution of the same operation: its `OperationId` and `CorrelationId` (and the ids equal to
 * them, such as a synchronous step's `RequestId` or the parent context's) replaced by new GUIDs, everywhere in the
 * text, so the rest stays byte-for-byte. The dedupe key includes `OperationId`, so the bridge publishes it again.
 * Bad input (no such ids) is sent unchanged.
 */
function freshened(bytes: Buffer): Buffer {
  let context: Record<string, unknown>;
  try {
    context = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, '')) as Record<string, unknown>;
  } catch {
    return bytes;
  }
  let text = bytes.toString('utf8');
  for (const name of ['OperationId', 'CorrelationId']) {
    const id = context?.[name];
    if (typeof id !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) continue;
    text = text.replace(new RegExp(id, 'gi'), randomUUID());
  }
  return Buffer.from(text, 'utf8');
}

/** Reads what the headers and properties need; anything unreadable is simply left out. */
function contextFacts(bytes: Buffer, organization: string | undefined): ContextFacts {
  let context: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) context = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: sent as it is, with the headers that do not depend on it.
  }
  const text = (name: string): string | undefined => {
    const value = context[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const orgName = text('OrganizationName')
    ?.toLowerCase()
    .replace(/[^a-z0-9-]/g, '');
  return {
    organization: organization?.trim() || (orgName ? `${orgName}.crm.dynamics.com` : DEFAULT_ORGANIZATION),
    messageName: text('MessageName'),
    primaryEntityName: text('PrimaryEntityName'),
    correlationId: text('CorrelationId'),
    userId: text('UserId'),
    initiatingUserId: text('InitiatingUserId'),
    initiatingUserAgent: text('InitiatingUserAgent'),
  };
}

/** The Service Bus application properties Dataverse sets, for the facts the context has. */
function applicationProperties(facts: ContextFacts): Record<string, string> {
  const properties: Record<string, string> = { [DATAVERSE_PROPERTIES.organization]: facts.organization };
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined) properties[name] = value;
  };
  add(DATAVERSE_PROPERTIES.user, facts.userId);
  add(DATAVERSE_PROPERTIES.initiatingUser, facts.initiatingUserId);
  add(DATAVERSE_PROPERTIES.entityLogicalName, facts.primaryEntityName);
  add(DATAVERSE_PROPERTIES.requestName, facts.messageName);
  add(DATAVERSE_PROPERTIES.initiatingUserAgent, facts.initiatingUserAgent);
  return properties;
}

/** The webhook headers Dataverse sends. Values that cannot be HTTP header values (bad input) are left out. */
function webhookHeaders(facts: ContextFacts): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': randomUUID() };
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined && /^[\x20-\x7e]+$/.test(value)) headers[name] = value.trim();
  };
  add(DATAVERSE_HEADERS.organization, facts.organization);
  add(DATAVERSE_HEADERS.entityName, facts.primaryEntityName);
  add(DATAVERSE_HEADERS.requestName, facts.messageName);
  add(DATAVERSE_HEADERS.correlationRequestId, facts.correlationId);
  return headers;
}

async function sendOverHttp(
  files: readonly ContextFile[],
  plan: Extract<Plan, { mode: 'webhook' | 'local-queue' }>,
  key: string | undefined,
  err: Writable,
  timeoutMs: number,
): Promise<Delivery[]> {
  const deliveries: Delivery[] = [];
  let hinted = false;
  for (const [index, file] of files.entries()) {
    const request =
      plan.mode === 'webhook' ? webhookRequest(file, plan.to, key) : localQueueRequest(file, plan.to, key);
    const delivery = await post(request, timeoutMs);
    deliveries.push(delivery);
    err.write(`[${index + 1}/${files.length}] ${file.name} → ${delivery.detail}\n`);
    if (delivery.connectionRefused && !hinted) {
      hinted = true;
      err.write(`hint: nothing is listening there: is \`npm start\` running at ${plan.to.origin}?\n`);
    }
  }
  return deliveries;
}

interface HttpRequest {
  url: URL;
  headers: Record<string, string>;
  body: Uint8Array | string;
}

/** `POST {to}/api/dataverse/webhook?code={key}` with the file's bytes, as a WebhookKey service endpoint posts. */
function webhookRequest(file: ContextFile, to: URL, key: string | undefined): HttpRequest {
  const url = new URL('api/dataverse/webhook', to);
  if (key) url.searchParams.set('code', key);
  return { url, headers: webhookHeaders(file.facts), body: file.bytes };
}

/** `POST {to}/admin/functions/dataverseQueue`: the local host's admin invoke, carrying what Service Bus would. */
function localQueueRequest(file: ContextFile, to: URL, key: string | undefined): HttpRequest {
  const url = new URL('admin/functions/dataverseQueue', to);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key) headers['x-functions-key'] = key;
  const body = JSON.stringify({
    input: file.bytes.toString('utf8'),
    contentType: 'application/json',
    messageId: randomUUID(),
    applicationProperties: applicationProperties(file.facts),
  });
  return { url, headers, body };
}

async function post(request: HttpRequest, timeoutMs: number): Promise<Delivery> {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    if ((error as Error)?.name === 'TimeoutError') {
      return { accepted: false, detail: `failed: no answer within ${timeoutMs / 1000} s` };
    }
    const code = networkErrorCode(error);
    return { accepted: false, detail: `failed: ${code}`, connectionRefused: code === 'ECONNREFUSED' };
  }
  const text = await response.text().catch(() => '');
  const outcome = queueOutcome(text);
  const accepted = response.status >= 200 && response.status < 300 && outcome?.status !== 'rejected';
  let detail = `${response.status} ${outcome ? describeOutcome(outcome) : describeBody(text)}`.trim();
  if (response.status === 401 || response.status === 403) detail += ' (check --key or BRIDGE_LOCAL_KEY)';
  return { accepted, detail };
}

/** One message's outcome, as the queue function reports it through the local host's admin invoke. */
interface QueueOutcome {
  status: string;
  jobId?: string;
  error?: { code?: unknown; message?: unknown };
}

/** The outcome of the (one) message of an admin invoke's answer, `{"outcomes": [{status, jobId, error?}]}`. */
function queueOutcome(text: string): QueueOutcome | undefined {
  try {
    const first = (JSON.parse(text) as { outcomes?: unknown })?.outcomes;
    const outcome = Array.isArray(first) ? (first[0] as QueueOutcome | undefined) : undefined;
    return typeof outcome?.status === 'string' ? outcome : undefined;
  } catch {
    return undefined;
  }
}

/** `published (job …)`, `duplicate (job …)`, `rejected NotAContext: …`. */
function describeOutcome(outcome: QueueOutcome): string {
  const job = outcome.jobId ? ` (job ${outcome.jobId})` : '';
  const { error } = outcome;
  if (outcome.status !== 'rejected' && outcome.status !== 'failed') return `${outcome.status}${job}`;
  const code = typeof error?.code === 'string' ? error.code : 'Error';
  const message = typeof error?.message === 'string' ? `: ${oneLine(error.message)}` : '';
  return `${outcome.status} ${code}${message}${job}`;
}

/** `published` from `{"status":"published"}`, `NotAContext: …` from `{"error":{"code","message"}}`, else nothing. */
function describeBody(text: string): string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return '';
  }
  if (!json || typeof json !== 'object') return '';
  const { status, error } = json as { status?: unknown; error?: { code?: unknown; message?: unknown } };
  if (typeof status === 'string') return status;
  if (error && typeof error === 'object' && typeof error.code === 'string') {
    return typeof error.message === 'string' ? `${error.code}: ${oneLine(error.message)}` : error.code;
  }
  return '';
}

function oneLine(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** `ECONNREFUSED`, `ENOTFOUND`, … from fetch's `TypeError: fetch failed` and its causes. */
function networkErrorCode(error: unknown): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    messages.push(current instanceof Error ? current.message : String(current));
    current = (current as { errors?: unknown[] }).errors?.[0] ?? (current as { cause?: unknown }).cause;
  }
  return messages.join(': '); // e.g. "fetch failed: bad port"
}

async function sendToServiceBus(
  files: readonly ContextFile[],
  connectionString: string,
  queueName: string,
  err: Writable,
  deps: SendDeps,
): Promise<Delivery[]> {
  const messages: OutboundMessage[] = files.map((file) => ({
    body: file.bytes,
    contentType: 'application/json',
    messageId: randomUUID(),
    applicationProperties: applicationProperties(file.facts),
  }));
  const sender = await (deps.openQueueSender ?? openServiceBusSender)(connectionString, queueName);
  let outcomes: SendOutcome[];
  try {
    outcomes = await sender.send(messages);
  } catch (error) {
    // Senders report failures as outcomes; this is for one that throws anyway. Its message is scrubbed below.
    const failure: SendOutcome = { ok: false, code: (error as Error)?.name ?? 'Error', message: String(error) };
    outcomes = messages.map(() => failure);
  } finally {
    await sender.close().catch(() => undefined);
  }
  return files.map((file, index) => {
    const outcome = outcomes[index] ?? { ok: false, code: 'NotSent', message: 'not sent' };
    const detail = outcome.ok
      ? `queued on ${queueName}`
      : `failed: ${outcome.code}: ${oneLine(redactConnectionString(outcome.message, connectionString))}`;
    err.write(`[${index + 1}/${files.length}] ${file.name} → ${detail}\n`);
    return { accepted: outcome.ok, detail };
  });
}
