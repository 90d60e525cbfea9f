import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../shared/errors.js';
import {
  CallbackUnreachableError,
  HttpCallbackSender,
  RefusedAddressError,
} from '../../shared/subscriptions/callbackSender.js';
import { CallbackUrlError } from '../../shared/subscriptions/callbackUrl.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

type Respond = (request: IncomingMessage, response: ServerResponse) => void;

/** A local HTTP receiver on a free port that records every request and answers with `respond`. */
async function startReceiver(respond: Respond) {
  const received: Received[] = [];
  let connections = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks),
      });
      respond(request, response);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    received,
    connections: () => connections,
    url: (path = '/hook?sig=secret-query') => new URL(`http://127.0.0.1:${port}${path}`),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function receiver(respond: Respond) {
  const started = await startReceiver(respond);
  stops.push(started.stop);
  return started;
}

function sender(localMode: boolean, maxResponseBytes?: number) {
  const created = new HttpCallbackSender({ localMode, ...(maxResponseBytes ? { maxResponseBytes } : {}) });
  stops.push(() => created.close());
  return created;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the post to fail');
}

const BODY = Buffer.from('{"messageName":"Update","note":"héllo"}', 'utf8');

describe('HttpCallbackSender', () => {
  it('posts the exact body with our headers and returns the 2xx status', async () => {
    const peer = await receiver((_request, response) => response.writeHead(202).end('accepted'));
    const result = await sender(true).post(peer.url(), BODY, { 'X-Bridge-Delivery-Id': 'd-1' }, 5_000);
    expect(result).toEqual({ status: 202 });
    expect(peer.received).toHaveLength(1);
    const [request] = peer.received;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/hook?sig=secret-query');
    expect(request?.body.equals(BODY)).toBe(true);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['content-length']).toBe(String(BODY.length));
    expect(request?.headers['x-bridge-delivery-id']).toBe('d-1');
    expect(request?.headers['user-agent']).toMatch(/^DataverseBridge\//);
  });

  it('returns a 500 as an answer, not an error', async () => {
    const peer = await receiver((_request, response) => response.writeHead(500).end('boom'));
    expect(await sender(true).post(peer.url(), BODY, {}, 5_000)).toEqual({ status: 500 });
  });

  it('does not follow a redirect: a 3xx is the answer', async () => {
    const peer = await receiver((request, response) => {
      if (request.url === '/elsewhere') response.writeHead(200).end();
      else response.writeHead(302, { location: '/elsewhere' }).end();
    });
    expect(await sender(true).post(peer.url(), BODY, {}, 5_000)).toEqual({ status: 302 });
    expect(peer.received.map((request) => request.url)).toEqual(['/hook?sig=secret-query']);
  });

  it('fails with Timeout when the callback does not answer in time', async () => {
    const peer = await receiver(() => {
      // never answers
    });
    const error = await failure(sender(true).post(peer.url(), BODY, {}, 200));
    expect(error).toBeInstanceOf(CallbackUnreachableError);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as CallbackUnreachableError).code).toBe('Timeout');
    expect(error.message).toBe('The callback did not answer within 200 ms.');
  });

  it('fails with NetworkError when the connection is dropped', async () => {
    const peer = await receiver((request) => request.socket.destroy());
    const error = await failure(sender(true).post(peer.url(), BODY, {}, 5_000));
    expect(error).toBeInstanceOf(CallbackUnreachableError);
    expect((error as CallbackUnreachableError).code).toBe('NetworkError');
    expect(error.message).not.toContain('sig=');
  });

  it('fails with NetworkError when nothing listens', async () => {
    const peer = await startReceiver(() => {});
    await peer.stop();
    const error = await failure(sender(true).post(peer.url(), BODY, {}, 5_000));
    expect((error as CallbackUnreachableError).code).toBe('NetworkError');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('reads a large response body only up to its bound, and keeps the status', async () => {
    const peer = await receiver((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end(Buffer.alloc(4 * 1024 * 1024, 'x'));
    });
    expect(await sender(true, 1024).post(peer.url(), BODY, {}, 5_000)).toEqual({ status: 200 });
  });

  it('resolves host names in local mode (localhost is allowed there)', async () => {
    const peer = await receiver((_request, response) => response.writeHead(200).end());
    const url = new URL(`http://localhost:${peer.port}/hook`);
    expect(await sender(true).post(url, BODY, {}, 5_000)).toEqual({ status: 200 });
  });

  describe('in production mode', () => {
    it('refuses at lookup a host name that resolves to a loopback address, before any connection', async () => {
      const peer = await receiver((_request, response) => response.writeHead(200).end());
      const error = await failure(sender(false).post(new URL(`https://localhost:${peer.port}/`), BODY, {}, 5_000));
      expect(error).toBeInstanceOf(RefusedAddressError);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as RefusedAddressError).code).toBe('RefusedAddress');
      expect(peer.connections()).toBe(0);
      expect(peer.received).toHaveLength(0);
    });

    it('refuses an IP-literal host that is not public, before any connection', async () => {
      const peer = await receiver((_request, response) => response.writeHead(200).end());
      for (const host of ['127.0.0.1', '[::ffff:127.0.0.1]', '[::7f00:1]', '[::a9fe:a9fe]', '[64:ff9b::a00:1]']) {
        const error = await failure(sender(false).post(new URL(`https://${host}:${peer.port}/`), BODY, {}, 5_000));
        expect((error as RefusedAddressError).code).toBe('RefusedAddress');
      }
      expect(peer.connections()).toBe(0);
    });

    it('refuses http: production requires https', async () => {
      const peer = await receiver((_request, response) => response.writeHead(200).end());
      const error = await failure(sender(false).post(peer.url(), BODY, {}, 5_000));
      expect(error).toBeInstanceOf(CallbackUrlError);
      expect(peer.connections()).toBe(0);
    });
  });
});
