import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from '../helpers/ports.js';

/**
 * What the proxy does with one request:
 * - `ok`: forwards it to Azurite and passes the answer back;
 * - `500`: answers 500 `InternalError` without forwarding it;
 * - `503`: answers 503 `ServerBusy` without forwarding it;
 * - `timeout`: holds the request for `timeoutMs`, then answers 500 `OperationTimedOut`, as Azure Storage does when an
 *   operation runs past its server timeout; half of these were carried out by Azurite first (the client cannot tell);
 * - `reset`: destroys the connection without an answer; half of these after Azurite carried the request out (the
 *   write happened, its answer is lost).
 *
 * Codes and messages from "Common REST API error codes" and "Status and error codes"
 * (https://learn.microsoft.com/rest/api/storageservices/common-rest-api-error-codes,
 * https://learn.microsoft.com/rest/api/storageservices/status-and-error-codes2): the `x-ms-error-code` header, an XML
 * `<Error>` body from Blob, an `odata.error` JSON body from Table.
 */
export type StorageFault = 'ok' | 500 | 503 | 'timeout' | 'reset';

/** The faults drawn for a faulty request, in equal shares. */
export const STORAGE_FAULTS: readonly Exclude<StorageFault, 'ok'>[] = [500, 503, 'timeout', 'reset'];

/** The services the app uses (it keeps nothing in Queue storage). */
export type StorageService = 'table' | 'blob';

/** A running fault-injecting proxy in front of one Azurite service. */
export interface StorageProxy {
  service: StorageService;
  /** `http://127.0.0.1:<port>`: the proxy's origin (the account name stays in the path, as with Azurite). */
  origin: string;
  /** Requests seen, and faults injected by name (`500`, `503`, `timeout`, `reset`). */
  stats: { requests: number; faults: Record<string, number> };
  stop(): Promise<void>;
}

const ERRORS: Record<500 | 503 | 'timeout', [number, string, string]> = {
  500: [500, 'InternalError', 'The server encountered an internal error. Please retry the request.'],
  503: [503, 'ServerBusy', 'The server is currently unable to receive requests. Please retry your request.'],
  timeout: [500, 'OperationTimedOut', 'The operation could not be completed within the permitted time.'],
};

/**
 * Starts an HTTP proxy on 127.0.0.1 (a free port) in front of `target` (an Azurite service's origin) that answers a
 * request as `decide` says. `decide` is called once per request, in arrival order, so a seeded one repeats a run's
 * faults (their timing depends on the machine).
 */
export async function startStorageProxy(options: {
  service: StorageService;
  target: string;
  decide: () => StorageFault;
  /** How long a `timeout` holds the request before answering (Azure Storage's server timeout, shortened). */
  timeoutMs: number;
}): Promise<StorageProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const timers = new Set<NodeJS.Timeout>();
  const stats = { requests: 0, faults: {} as Record<string, number> };

  const server = createServer((request, response) => {
    stats.requests++;
    const fault = options.decide();
    if (fault !== 'ok') stats.faults[String(fault)] = (stats.faults[String(fault)] ?? 0) + 1;
    // Half of the timeouts and resets happen after the request was carried out: the coin is the request count.
    const carriedOut = stats.requests % 2 === 0;
    if (fault === 500 || fault === 503) {
      request.resume();
      return answerError(options.service, response, fault);
    }
    if (fault === 'timeout') {
      const hold = () => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answerError(options.service, response, 'timeout');
        }, options.timeoutMs);
        timers.add(timer);
      };
      if (carriedOut) return forward(request, undefined, hold);
      request.resume();
      return hold();
    }
    if (fault === 'reset') {
      if (carriedOut) return forward(request, undefined, () => request.socket.destroy());
      return request.socket.destroy();
    }
    forward(request, response);
  });

  /** Sends the request to Azurite; passes the answer to `response`, or drops it and calls `then` once it is in. */
  function forward(request: IncomingMessage, response: ServerResponse | undefined, then?: () => void): void {
    const upstream = httpRequest(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, host: target.host },
        agent,
      },
      (answer) => {
        if (!response) {
          answer.resume();
          answer.on('end', () => then?.());
          return;
        }
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => {
      // Azurite itself failed: the client sees a dropped connection.
      request.socket.destroy();
    });
    request.pipe(upstream);
  }

  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    service: options.service,
    origin: `http://127.0.0.1:${port}`,
    stats,
    async stop() {
      await closeServer(server, timers);
      agent.destroy();
    },
  };
}

function answerError(service: StorageService, response: ServerResponse, fault: 500 | 503 | 'timeout'): void {
  if (response.destroyed) return;
  const [status, code, message] = ERRORS[fault];
  const body =
    service === 'table'
      ? JSON.stringify({ 'odata.error': { code, message: { lang: 'en-US', value: message } } })
      : `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  response.writeHead(status, {
    'content-type': service === 'table' ? 'application/json;odata=minimalmetadata' : 'application/xml',
    'x-ms-error-code': code,
  });
  response.end(body);
}
