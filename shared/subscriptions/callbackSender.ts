import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { PermanentError, TransientError } from '../errors.js';
import { CallbackUrlError, isAllowedAddress } from './callbackUrl.js';

/** What a callback answered. Any status is an answer; deciding which ones mean success is the caller's job. */
export interface CallbackResponse {
  status: number;
}

/**
 * Posts one delivery to a callback URL. Resolves with the status of any answer (redirects are answers, not
 * followed); rejects with {@link CallbackUnreachableError} (`Timeout`, `NetworkError`) when there was none, or
 * {@link RefusedAddressError} when the host is not one we may connect to.
 */
export interface CallbackSender {
  post(url: URL, body: Buffer, headers: Record<string, string>, timeoutMs: number): Promise<CallbackResponse>;
}

/** The callback gave no answer in time, or could not be reached. Retrying later may succeed. */
export class CallbackUnreachableError extends TransientError {
  override readonly name = 'CallbackUnreachableError';

  constructor(
    readonly code: 'Timeout' | 'NetworkError',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The callback's host is, or resolved to, an address callbacks may not reach (private, loopback, link-local…; see
 * `isAllowedAddress`). Raised before any connection is made.
 */
export class RefusedAddressError extends PermanentError {
  override readonly name = 'RefusedAddressError';
  readonly code = 'RefusedAddress';

  constructor(readonly address: string) {
    super(
      `The callback's host is or resolves to ${address}, which is not a public address; callbacks must go to a ` +
        'public address.',
    );
  }
}

/** Options of {@link HttpCallbackSender}. */
export interface HttpCallbackSenderOptions {
  /** Local mode allows any address (and http); otherwise only public unicast addresses are connected to. */
  localMode: boolean;
  /** How much of a response body is read (and discarded) before the connection is dropped. Default 64 KiB. */
  maxResponseBytes?: number;
}

const USER_AGENT = 'DataverseBridge/1 (+deliverSubscriptions)';
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

/** Why one attempt ended without an answer on a kept-alive socket the server had already closed. */
class StaleSocket extends Error {}

/**
 * {@link CallbackSender} over `node:http`/`node:https` (not `fetch`, whose DNS resolution cannot be intercepted).
 *
 * SSRF defence at connect time: the `lookup` hook resolves the host name itself and, outside local mode, refuses the
 * connection if **any** resolved address is not public, so a name that passed `checkCallbackUrl` cannot be pointed
 * at an internal address afterwards (DNS rebinding): the address checked is the address connected to. Node skips
 * `lookup` for IP-literal hosts, so those are checked before connecting. Sockets are kept alive per sender; a reused
 * socket that turns out to be closed is retried once on a new connection (which is looked up and checked again).
 *
 * One `timeoutMs` covers the whole exchange (DNS, connect, TLS, request, response headers). Once the status is in,
 * the body is read and discarded up to `maxResponseBytes`, then the connection is dropped; the status stands.
 *
 * @example
 * const sender = new HttpCallbackSender({ localMode: false });
 * const { status } = await sender.post(url, body, { 'X-Bridge-Signature-256': signature }, 15_000);
 */
export class HttpCallbackSender implements CallbackSender {
  readonly #localMode: boolean;
  readonly #maxResponseBytes: number;
  readonly #agents: { 'http:': http.Agent; 'https:': https.Agent };
  readonly #lookup: LookupFunction;

  constructor(options: HttpCallbackSenderOptions) {
    this.#localMode = options.localMode;
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
    this.#lookup = checkedLookup(options.localMode);
  }

  async post(url: URL, body: Buffer, headers: Record<string, string>, timeoutMs: number): Promise<CallbackResponse> {
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.#localMode)) {
      throw new CallbackUrlError('callbackUrl must use https.');
    }
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (isIP(host) !== 0 && !isAllowedAddress(host, this.#localMode)) throw new RefusedAddressError(host);
    const deadline = Date.now() + timeoutMs;
    try {
      return await this.#attempt(url, body, headers, timeoutMs);
    } catch (error) {
      if (!(error instanceof StaleSocket)) throw error;
      return await this.#attempt(url, body, headers, Math.max(deadline - Date.now(), 1));
    }
  }

  /** Closes the kept-alive sockets. */
  close(): void {
    this.#agents['http:'].destroy();
    this.#agents['https:'].destroy();
  }

  #attempt(url: URL, body: Buffer, headers: Record<string, string>, timeoutMs: number): Promise<CallbackResponse> {
    return new Promise((resolve, reject) => {
      let status: number | undefined;
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        outcome();
      };
      const client = url.protocol === 'https:' ? https : http;
      const request = client.request(
        url,
        {
          method: 'POST',
          agent: this.#agents[url.protocol === 'https:' ? 'https:' : 'http:'],
          lookup: this.#lookup,
          headers: {
            'content-type': 'application/json',
            'user-agent': USER_AGENT,
            ...headers,
            'content-length': String(body.length),
          },
        },
        (response) => {
          const answered = response.statusCode ?? 0;
          status = answered;
          let received = 0;
          response.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received > this.#maxResponseBytes) response.destroy();
          });
          // However the body ends (fully read, cut short by us, or the connection dropped), the callback answered.
          response.on('close', () => finish(() => resolve({ status: answered })));
          response.on('error', () => finish(() => resolve({ status: answered })));
        },
      );
      const timer = setTimeout(() => {
        if (status !== undefined) {
          const answered = status;
          finish(() => resolve({ status: answered }));
        } else {
          finish(() =>
            reject(new CallbackUnreachableError('Timeout', `The callback did not answer within ${timeoutMs} ms.`)),
          );
        }
        request.destroy();
      }, timeoutMs);
      request.on('error', (error: NodeJS.ErrnoException) => {
        if (status !== undefined) return; // the response's own handlers settle it
        const stale = request.reusedSocket && error.code === 'ECONNRESET';
        finish(() => reject(stale ? new StaleSocket() : toSendError(error)));
      });
      request.end(body);
    });
  }
}

/**
 * A `lookup` for `net.connect` that resolves every address of the host and, outside local mode, fails with
 * {@link RefusedAddressError} if any of them is not allowed. Answers in the form asked for (`all` or one address),
 * since Node's happy-eyeballs connect asks for all.
 */
function checkedLookup(localMode: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) {
        callback(error, '');
        return;
      }
      const refused = addresses.find((entry) => !isAllowedAddress(entry.address, localMode));
      const first = addresses[0];
      if (refused !== undefined || first === undefined) {
        callback(refused ? new RefusedAddressError(refused.address) : notFound(hostname), '');
        return;
      }
      if ((options as { all?: boolean }).all) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`No address for ${hostname}`), { code: 'ENOTFOUND' });
}

/** Our error for a failed request: refusals as they are, everything else a `NetworkError` naming the socket code. */
function toSendError(error: NodeJS.ErrnoException): Error {
  if (error instanceof RefusedAddressError) return error;
  const code = typeof error.code === 'string' ? error.code : undefined;
  const what =
    code === 'ENOTFOUND' || code === 'EAI_AGAIN'
      ? "The callback's host name could not be resolved"
      : 'The callback could not be reached';
  return new CallbackUnreachableError('NetworkError', `${what}${code ? ` (${code})` : ''}.`, { cause: error });
}
