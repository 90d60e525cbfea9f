import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StorageFault, type StorageProxy, startStorageProxy } from './storageProxy.js';

describe('the soak storage proxy', () => {
  let upstream: Server;
  let origin: string;
  /** Requests that reached the upstream, by path. */
  const reached: string[] = [];
  const proxies: StorageProxy[] = [];

  beforeAll(async () => {
    upstream = createServer((request, response) => {
      reached.push(request.url ?? '');
      request.resume();
      request.on('end', () => response.writeHead(201, { etag: 'W/"1"' }).end('{"made":true}'));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const proxy of proxies) await proxy.stop();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  /** A proxy answering every request with `fault`. */
  async function proxy(service: 'table' | 'blob', fault: StorageFault): Promise<StorageProxy> {
    const started = await startStorageProxy({ service, target: origin, decide: () => fault, timeoutMs: 50 });
    proxies.push(started);
    return started;
  }

  const post = (base: string, path: string) =>
    fetch(`${base}${path}`, { method: 'POST', body: '{"x":1}', headers: { connection: 'close' } });

  it('passes requests through, with their answers', async () => {
    const ok = await proxy('table', 'ok');
    const response = await post(ok.origin, '/devstoreaccount1/jobs');
    expect(response.status).toBe(201);
    expect(response.headers.get('etag')).toBe('W/"1"');
    expect(await response.text()).toBe('{"made":true}');
    expect(reached).toContain('/devstoreaccount1/jobs');
    expect(ok.stats).toEqual({ requests: 1, faults: {} });
  });

  it("answers 500 and 503 in the service's error format, without forwarding", async () => {
    const table = await proxy('table', 503);
    const response = await post(table.origin, '/devstoreaccount1/busy');
    expect(response.status).toBe(503);
    expect(response.headers.get('x-ms-error-code')).toBe('ServerBusy');
    expect(await response.json()).toEqual({
      'odata.error': {
        code: 'ServerBusy',
        message: {
          lang: 'en-US',
          value: 'The server is currently unable to receive requests. Please retry your request.',
        },
      },
    });
    const blob = await proxy('blob', 500);
    const failed = await post(blob.origin, '/devstoreaccount1/broken');
    expect(failed.status).toBe(500);
    expect(await failed.text()).toContain('<Code>InternalError</Code>');
    expect(reached).not.toContain('/devstoreaccount1/busy');
    expect(reached).not.toContain('/devstoreaccount1/broken');
    expect(table.stats.faults).toEqual({ 503: 1 });
  });

  it('times out with 500 OperationTimedOut after holding the request, carrying every second one out first', async () => {
    const slow = await proxy('table', 'timeout');
    for (const path of ['/devstoreaccount1/t1', '/devstoreaccount1/t2']) {
      const response = await post(slow.origin, path);
      expect(response.status).toBe(500);
      expect(response.headers.get('x-ms-error-code')).toBe('OperationTimedOut');
    }
    expect(reached.filter((path) => path.startsWith('/devstoreaccount1/t'))).toEqual(['/devstoreaccount1/t2']);
  });

  it('resets the connection without an answer, carrying every second request out first', async () => {
    const reset = await proxy('blob', 'reset');
    for (const path of ['/devstoreaccount1/r1', '/devstoreaccount1/r2']) {
      await expect(post(reset.origin, path)).rejects.toThrow('fetch failed');
    }
    expect(reached.filter((path) => path.startsWith('/devstoreaccount1/r'))).toEqual(['/devstoreaccount1/r2']);
    expect(reset.stats).toEqual({ requests: 2, faults: { reset: 2 } });
  });
});
