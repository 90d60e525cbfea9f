import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LOGICAL_NAME, MESSAGE_NAME } from '../dataverse/names.js';
import { CallbackUrlError, checkCallbackUrl } from '../subscriptions/callbackUrl.js';
import { parseList } from '../subscriptions/filters.js';
import type { Subscription, SubscriptionStore } from '../subscriptions/types.js';
import { operation } from './operations.js';
import { checkShape } from './requests.js';
import { type ApiResponse, apiError } from './responses.js';

/** The body of `POST /api/subscriptions` (the `WhenAnEventOccurs` webhook trigger). */
export interface CreateSubscriptionRequest {
  /** Where to post matching events; Power Automate fills it in (`x-ms-notification-url`). */
  callbackUrl: string;
  /** One table logical name; omitted or empty: every table. */
  table?: string;
  /** Comma-separated message names, e.g. `Create,Update`; omitted or empty: every message. */
  messages?: string;
  /** Comma-separated column logical names; an Update matches when it changed one of them. */
  columns?: string;
  /** With `columns`: only Updates that really changed one of their values (not merely sent them). */
  onlyWhenValuesChange?: boolean;
  /** The HMAC key (16 to 256 characters); generated when omitted. */
  secret?: string;
}

/** A subscription as the API shows it: no secret, no token hash, no ETag, and the callback URL without its query. */
export type SubscriptionView = Omit<Subscription, 'secret' | 'deleteTokenHash' | 'etag'>;

/**
 * The largest `POST /api/subscriptions` body worth reading, in bytes, as the operation declares it: a callback URL of
 * at most 4,096 characters and a few short lists. Larger bodies are refused (413) before parsing.
 */
export const MAX_SUBSCRIPTION_BODY_BYTES = operation('createSubscription').body?.maxBytes ?? 0;

const SUBSCRIPTION_ID = /^[0-9a-f]{32}$/;
const MAX_LIST_ITEMS = 100;
const MAX_LIST_LENGTH = 4096;

/**
 * The subscription as the API returns it. The callback URL keeps only its origin and path: Power Automate's callback
 * query carries the signature that lets anyone trigger the flow.
 *
 * @example
 * toSubscriptionView(subscription).callbackUrl;
 * // 'https://prod-12.westeurope.logic.azure.com/workflows/…/triggers/manual/paths/invoke' (no ?sig=…)
 */
export function toSubscriptionView(subscription: Subscription): SubscriptionView {
  const { secret: _secret, deleteTokenHash: _hash, etag: _etag, id, callbackUrl, ...view } = subscription;
  const { onlyWhenValuesChange, ...rest } = view;
  return { id, callbackUrl: withoutQuery(callbackUrl), ...rest, onlyWhenValuesChange: onlyWhenValuesChange === true };
}

/**
 * `POST /api/subscriptions`: subscribes a callback (a Power Automate webhook trigger) to events. Answers 201 with the
 * subscription, its `secret` (only here, so a client can verify `X-Bridge-Signature-256`), and a `Location` header
 * `<origin>/api/subscriptions/<id>?token=<token>`: the URL alone deletes the subscription (Power Automate calls it
 * without an API key when the flow is turned off or deleted). Only the token's SHA-256 is stored.
 *
 * @example
 * await createSubscription({ callbackUrl: 'https://…', table: 'account', messages: 'Create,Update' }, requestUrl, store,
 *   { localMode: false });
 * // { status: 201, headers: { Location: 'https://app.azurewebsites.net/api/subscriptions/<id>?token=<token>' },
 * //   jsonBody: { id, callbackUrl, tables: ['account'], messages: ['Create', 'Update'], columns: [], secret, … } }
 */
export async function createSubscription(
  body: unknown,
  requestUrl: URL,
  store: SubscriptionStore,
  options: { localMode: boolean; now?: () => Date },
): Promise<ApiResponse> {
  // The schema (SubscriptionRequest) owns the shape: types, patterns, lengths, unknown fields. What it cannot say is
  // checked here: which callback URLs are allowed (first, for a URL given as text, since the policy's refusal says
  // more than "not a URI"), and the lists' names and count.
  const given = typeof body === 'object' && body !== null ? (body as { callbackUrl?: unknown }).callbackUrl : undefined;
  if (typeof given === 'string' && given.trim() !== '') {
    try {
      checkCallbackUrl(given, { localMode: options.localMode });
    } catch (error) {
      if (error instanceof CallbackUrlError) return apiError(400, error.code, error.message, 'callbackUrl');
      throw error;
    }
  }
  const problem = checkShape('SubscriptionRequest', body);
  if (problem) return apiError(400, 'InvalidBody', problem.message, problem.target);
  const { callbackUrl, table, messages, columns, onlyWhenValuesChange, secret } = body as CreateSubscriptionRequest;
  const tableName = table?.trim() || undefined;
  const messageList = namesIn(messages, MESSAGE_NAME);
  if (messageList === null) {
    return apiError(
      400,
      'InvalidBody',
      `messages must be comma-separated message names such as Create,Update (at most ${MAX_LIST_ITEMS}).`,
      'messages',
    );
  }
  const columnList = namesIn(columns, LOGICAL_NAME);
  if (columnList === null) {
    return apiError(
      400,
      'InvalidBody',
      `columns must be comma-separated column logical names such as name,telephone1 (at most ${MAX_LIST_ITEMS}).`,
      'columns',
    );
  }
  if (onlyWhenValuesChange === true && columnList.length === 0) {
    return apiError(
      400,
      'InvalidBody',
      'onlyWhenValuesChange needs columns: name the columns whose values must change, e.g. name,telephone1.',
      'onlyWhenValuesChange',
    );
  }
  const givenSecret = secret === '' ? undefined : secret;

  const id = randomBytes(16).toString('hex');
  const token = randomBytes(32).toString('base64url');
  const now = options.now ?? (() => new Date());
  const subscription = await store.create({
    id,
    callbackUrl: callbackUrl.trim(),
    secret: givenSecret ?? randomBytes(32).toString('base64url'),
    deleteTokenHash: sha256(token),
    createdAt: now().toISOString(),
    tables: tableName === undefined ? [] : [tableName],
    messages: messageList,
    columns: columnList,
    ...(onlyWhenValuesChange === true ? { onlyWhenValuesChange: true } : {}),
  });
  const location = new URL(`/api/subscriptions/${id}`, requestUrl.origin);
  location.searchParams.set('token', token);
  return {
    status: 201,
    headers: { Location: location.href },
    jsonBody: { ...toSubscriptionView(subscription), secret: subscription.secret },
  };
}

/** `GET /api/subscriptions`: every subscription with its health, oldest first; no secrets, no callback queries. */
export async function listSubscriptions(store: SubscriptionStore): Promise<ApiResponse> {
  const subscriptions = await store.list();
  subscriptions.sort((a, b) =>
    a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id.localeCompare(b.id),
  );
  return { status: 200, jsonBody: { value: subscriptions.map(toSubscriptionView) } };
}

/**
 * `DELETE /api/subscriptions/{id}?token=`: removes a subscription. Anonymous at the host: the token from the
 * `Location` URL is the credential (its SHA-256 is compared in constant time with the stored one). 401 when the token
 * is missing or wrong, 404 when there is no such subscription (already deleted).
 */
export async function deleteSubscription(
  id: string,
  token: string | null | undefined,
  store: SubscriptionStore,
): Promise<ApiResponse> {
  if (!SUBSCRIPTION_ID.test(id)) {
    return apiError(
      400,
      'InvalidParameter',
      'id must be a subscription id: 32 lower-case hexadecimal characters.',
      'id',
    );
  }
  if (!token) {
    return apiError(
      401,
      'Unauthorized',
      'token is required: use the Location URL the subscription was created with.',
      'token',
    );
  }
  const subscription = await store.get(id);
  if (subscription === undefined) return apiError(404, 'NotFound', 'No subscription has this id.', 'id');
  if (!sameHash(sha256(token), subscription.deleteTokenHash)) {
    return apiError(401, 'Unauthorized', 'token does not match this subscription.', 'token');
  }
  if (!(await store.delete(id))) return apiError(404, 'NotFound', 'No subscription has this id.', 'id');
  return { status: 200, jsonBody: { id, deleted: true } };
}

/** A trimmed string, `undefined` for absent/null/empty ("any"), `null` for a value of the wrong type. */
function optionalText(value: unknown): string | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return null;
  const text = value.trim();
  return text === '' ? undefined : text;
}

/** The names of a comma-separated list, or `null` when it is not a string or a name does not fit `pattern`. */
function namesIn(value: unknown, pattern: RegExp): string[] | null {
  const text = optionalText(value);
  if (text === null || (text !== undefined && text.length > MAX_LIST_LENGTH)) return null;
  const names = parseList(text);
  return names.length <= MAX_LIST_ITEMS && names.every((name) => pattern.test(name)) ? names : null;
}

function withoutQuery(callbackUrl: string): string {
  try {
    const url = new URL(callbackUrl);
    return `${url.origin}${url.pathname}`;
  } catch {
    return '';
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Constant-time comparison of two hex SHA-256 digests; `false` for anything malformed. */
function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === 32 && right.length === 32 && timingSafeEqual(left, right);
}
