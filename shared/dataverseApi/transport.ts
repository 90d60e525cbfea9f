/**
 * One Dataverse Web API request with everything around it: the bearer token, a timeout, retries and typed errors.
 *
 * Why plain `fetch` rather than `dynamics-web-api` (the most used Dataverse library for TypeScript, read for this):
 * that library builds URLs and parses answers well, but does not retry 429 answers (its maintainer declined:
 * AleksandrRogov/DynamicsWebApi#101), so every call would still need this wrapper for `Retry-After`, back-off, a retry
 * budget, the 401 token refresh and the permanent/transient split; what is left for it (URL building for a dozen
 * request shapes) is less code than its adapter would be, and it would add a dependency to load on the cold path.
 * The Web API is plain OData over HTTPS, so `fetch` (Node's built-in undici) serves it directly.
 *
 * Retry rules (Dataverse "Service protection API limits" and "Compose HTTP requests and handle errors"):
 * - 429: wait the `Retry-After` seconds it carries, for any method (the request was not processed);
 * - 5xx, a timeout or a network error: capped exponential back-off with full jitter, only for requests that are
 *   safe to repeat (GET, PATCH, DELETE; a POST create might have happened, so it is not repeated);
 * - 401: the token is fetched again once (it may have expired or been revoked);
 * - every wait comes out of one budget per call; a wait that would overrun it ends the call with a transient error.
 */
import type { AccessToken, TokenCredential } from '@azure/identity';
import { DataverseRequestError, DataverseUnavailableError } from './errors.js';

/** The clock and randomness, injectable so tests neither wait nor guess. */
export interface TransportClock {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
}

export interface TransportOptions {
  /** The environment URL, no trailing slash. */
  url: string;
  /** Absent: no Authorization header (local mode against a test double). */
  credential?: TokenCredential;
  timeoutMs: number;
  retryBudgetMs: number;
  /** First back-off step and its cap. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** At most this many attempts per call, whatever the budget. */
  maxAttempts?: number;
  clock?: TransportClock;
  /** One line per retry; never holds a header or a token. */
  log?: (message: string) => void;
  /** `fetch` to use (tests may wrap it); Node's global by default. */
  fetch?: typeof fetch;
}

/** A request relative to `<url>/api/data/v9.2/`, or an absolute link the service gave (`@odata.nextLink`). */
export interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** e.g. `accounts(…)?$select=name`. */
  path?: string;
  /** A link returned by the service; must be on the environment's origin. */
  link?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** What the errors call the request, e.g. `GET account`. */
  operation: string;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

const realClock: TransportClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: () => Math.random(),
};

/** Codes of errors retrying cannot fix, by HTTP status, for messages. */
const PERMANENT_CODES: Record<number, string> = {
  400: 'DataverseBadRequest',
  401: 'DataverseUnauthorized',
  403: 'DataverseForbidden',
  404: 'DataverseNotFound',
  405: 'DataverseBadRequest',
  409: 'DataverseConflict',
  412: 'DataversePreconditionFailed',
  413: 'DataverseBadRequest',
  415: 'DataverseBadRequest',
  501: 'DataverseNotSupported',
};

/** Sends Web API requests; one per environment and credential, shared by every caller. */
export class DataverseTransport {
  readonly url: string;
  readonly apiRoot: string;
  private readonly clock: TransportClock;
  private readonly fetch: typeof fetch;
  private token: AccessToken | undefined;
  private pendingToken: Promise<AccessToken> | undefined;

  constructor(private readonly options: TransportOptions) {
    this.url = options.url;
    this.apiRoot = `${options.url}/api/data/v9.2/`;
    this.clock = options.clock ?? realClock;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** Sends the request, retrying as the rules above say; throws a `DataverseError` when it cannot succeed. */
  async send(request: ApiRequest): Promise<ApiResponse> {
    const target = this.target(request);
    const started = this.clock.now();
    const budget = this.options.retryBudgetMs;
    const maxAttempts = this.options.maxAttempts ?? 10;
    const repeatable = request.method !== 'POST';
    let refreshedToken = false;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(target, request);
      if (outcome.kind === 'response') {
        const { response, body } = outcome;
        if (response.ok) return { status: response.status, headers: response.headers, body };
        if (response.status === 401 && !refreshedToken && this.options.credential) {
          // An expired or revoked token: fetch a new one once (the credential's own cache may have outlived it).
          refreshedToken = true;
          this.token = undefined;
          continue;
        }
        const error = this.errorFor(request, response, body);
        if (!error.transient) throw error;
        const retryAfter = response.status === 429 ? retryAfterMs(response.headers) : undefined;
        if (response.status !== 429 && !repeatable) throw error;
        const wait = retryAfter ?? this.backoff(attempt);
        await this.waitOrGiveUp(error, wait, started, budget, attempt, maxAttempts, request.operation);
        continue;
      }
      const error = outcome.error;
      if (!repeatable) throw error;
      await this.waitOrGiveUp(error, this.backoff(attempt), started, budget, attempt, maxAttempts, request.operation);
    }
  }

  /** A token for the environment, refreshed 5 minutes before it expires (one request in flight). */
  async accessToken(): Promise<string | undefined> {
    const credential = this.options.credential;
    if (!credential) return undefined;
    if (this.token && this.token.expiresOnTimestamp - 300_000 > this.clock.now()) return this.token.token;
    this.pendingToken ??= getToken(credential, `${this.url}/.default`).finally(() => {
      this.pendingToken = undefined;
    });
    this.token = await this.pendingToken;
    return this.token.token;
  }

  private target(request: ApiRequest): string {
    if (request.link === undefined) return `${this.apiRoot}${request.path ?? ''}`;
    let link: URL;
    try {
      link = new URL(request.link);
    } catch {
      throw new DataverseRequestError('DataverseBadLink', `The link is not a URL.`, { operation: request.operation });
    }
    // The token goes with the request: never to another host than the environment's.
    if (link.origin !== new URL(this.url).origin || !link.pathname.startsWith('/api/data/v9.2/')) {
      throw new DataverseRequestError(
        'DataverseBadLink',
        `The link ${link.origin}${link.pathname} is not on the environment ${this.url}; only links Dataverse returned can be followed.`,
        { operation: request.operation },
      );
    }
    return link.href;
  }

  private async attempt(
    target: string,
    request: ApiRequest,
  ): Promise<
    { kind: 'response'; response: Response; body: unknown } | { kind: 'failed'; error: DataverseUnavailableError }
  > {
    const token = await this.accessToken();
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'OData-MaxVersion': '4.0',
      'OData-Version': '4.0',
      ...(request.body !== undefined ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...request.headers,
    };
    const timeoutMs = this.options.timeoutMs;
    try {
      const response = await this.fetch(target, {
        method: request.method,
        headers,
        ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      let body: unknown;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
      }
      return { kind: 'response', response, body };
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        return {
          kind: 'failed',
          error: new DataverseUnavailableError(
            'DataverseTimeout',
            `Dataverse did not answer ${request.operation} within ${timeoutMs} ms (${'DATAVERSE_TIMEOUT_SECONDS'}).`,
            { operation: request.operation },
          ),
        };
      }
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      return {
        kind: 'failed',
        error: new DataverseUnavailableError(
          'DataverseUnreachable',
          `Dataverse at ${new URL(this.url).host} cannot be reached for ${request.operation} (${cause}).`,
          { operation: request.operation },
        ),
      };
    }
  }

  private errorFor(
    request: ApiRequest,
    response: Response,
    body: unknown,
  ): DataverseRequestError | DataverseUnavailableError {
    const status = response.status;
    const detail = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const dataverseCode = typeof detail?.code === 'string' ? detail.code : undefined;
    const said = typeof detail?.message === 'string' ? detail.message : undefined;
    const details = { operation: request.operation, status, ...(dataverseCode ? { dataverseCode } : {}) };
    if (status === 429) {
      const retryAfterSeconds = Math.ceil((retryAfterMs(response.headers) ?? 0) / 1000);
      return new DataverseUnavailableError(
        'DataverseThrottled',
        `Dataverse throttled ${request.operation} (429${dataverseCode ? ` ${dataverseCode}` : ''}: ${said ?? 'service protection limit'}).`,
        { ...details, retryAfterSeconds },
      );
    }
    if (status >= 500 && status !== 501) {
      return new DataverseUnavailableError(
        'DataverseUnavailable',
        `Dataverse failed ${request.operation} with ${status}${said ? `: ${said}` : ''}.`,
        details,
      );
    }
    if (status === 401) {
      // Dataverse explains a 401 in WWW-Authenticate, not in a body; its error_description names the reason.
      const reason = /error_description="([^"]*)"/.exec(response.headers.get('www-authenticate') ?? '')?.[1];
      return new DataverseRequestError(
        'DataverseUnauthorized',
        `Dataverse refused the token for ${request.operation} (401${reason ? `: ${reason.replace(/^.*----> +/, '').slice(0, 300)}` : ''}). Check that DATAVERSE_URL is the environment the credential is for, and the credential's tenant.`,
        details,
      );
    }
    if (status >= 300 && status < 400) {
      return new DataverseRequestError(
        'DataverseRedirected',
        `Dataverse answered ${request.operation} with a redirect (${status}); check DATAVERSE_URL.`,
        details,
      );
    }
    const code = PERMANENT_CODES[status] ?? 'DataverseRequestFailed';
    return new DataverseRequestError(
      code,
      `Dataverse refused ${request.operation} (${status}${dataverseCode ? ` ${dataverseCode}` : ''}): ${said ?? 'no reason given'}`,
      details,
    );
  }

  private backoff(attempt: number): number {
    const base = this.options.backoffBaseMs ?? 500;
    const cap = this.options.backoffCapMs ?? 10_000;
    // Full jitter: spreads the retries of many callers hit by the same outage.
    return Math.round(this.clock.random() * Math.min(cap, base * 2 ** (attempt - 1)));
  }

  private async waitOrGiveUp(
    error: DataverseRequestError | DataverseUnavailableError,
    waitMs: number,
    started: number,
    budgetMs: number,
    attempt: number,
    maxAttempts: number,
    operation: string,
  ): Promise<void> {
    const spent = this.clock.now() - started;
    if (attempt >= maxAttempts || spent + waitMs > budgetMs) {
      const status = error.status;
      const retryAfterSeconds = 'retryAfterSeconds' in error ? error.retryAfterSeconds : undefined;
      throw new DataverseUnavailableError(
        error.code,
        `${error.message} Gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${Math.round(spent / 1000)} s (retry budget ${Math.round(budgetMs / 1000)} s, DATAVERSE_RETRY_BUDGET_SECONDS).`,
        {
          operation,
          ...(status !== undefined ? { status } : {}),
          ...(error.dataverseCode ? { dataverseCode: error.dataverseCode } : {}),
          ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
        },
      );
    }
    this.options.log?.(`Dataverse: ${error.code} on ${operation}; retrying in ${waitMs} ms (attempt ${attempt + 1}).`);
    await this.clock.sleep(waitMs);
  }
}

/** `Retry-After` in seconds (what Dataverse sends) or an HTTP date, as milliseconds. */
function retryAfterMs(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Gets a token; the credential (see `credential.ts`) already turned its failures into Dataverse errors. */
async function getToken(credential: TokenCredential, scope: string): Promise<AccessToken> {
  let token: AccessToken | null;
  try {
    token = await credential.getToken(scope);
  } catch (error) {
    if (error instanceof DataverseRequestError || error instanceof DataverseUnavailableError) throw error;
    throw new DataverseUnavailableError(
      'DataverseCredentialFailed',
      `No token for Dataverse: ${(error as Error).name}.`,
      {
        operation: 'token',
      },
    );
  }
  if (!token) {
    throw new DataverseRequestError('DataverseCredentialFailed', 'The credential returned no token.', {
      operation: 'token',
    });
  }
  return token;
}
