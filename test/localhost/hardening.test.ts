import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHost, startLocalHost } from '../helpers/localHost.js';
import { openSocket, rawExchange, streamBody } from '../helpers/rawHttp.js';

let host: RunningHost;

beforeAll(async () => {
  host = await startLocalHost();
});
afterAll(async () => {
  await host?.stop();
});

async function expectHealthy(): Promise<void> {
  const health = await host.request('/api/health', { key: null });
  expect([200, 503]).toContain(health.status);
}

describe('the local host survives malformed requests', () => {
  const malformed: Record<string, string> = {
    'a lone [ as the Host': 'GET /api/health HTTP/1.1\r\nHost: [\r\n\r\n',
    'a Host with a space': 'GET /api/health HTTP/1.1\r\nHost: local host\r\n\r\n',
    'a Host with an out-of-range port': 'GET /api/health HTTP/1.1\r\nHost: localhost:99999\r\n\r\n',
    'an absolute target with a bad port': 'GET http://localhost:99999/api/health HTTP/1.1\r\nHost: localhost\r\n\r\n',
    'an absolute target with a bad host': 'GET http://[/api/jobs HTTP/1.1\r\nHost: localhost\r\n\r\n',
  };

  for (const [name, request] of Object.entries(malformed)) {
    it(`answers ${name} with 400 and keeps running`, async () => {
      const answer = await rawExchange(host.url, request);
      expect(answer.status, answer.text).toBe(400);
      await expectHealthy();
    });
  }

  it('answers a request with an empty Host (allowed by RFC 9112 when the target has no authority)', async () => {
    const answer = await rawExchange(host.url, 'GET /api/health HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n');
    expect([200, 503], answer.text).toContain(answer.status);
    await expectHealthy();
  });

  it('prints no stack trace when a client hangs up in the middle of a body', async () => {
    const socket = await openSocket(host.url);
    socket.write(
      `POST /api/dataverse/webhook HTTP/1.1\r\nHost: localhost\r\nx-functions-key: ${host.key}\r\n` +
        'content-type: application/json\r\ncontent-length: 100000\r\n\r\n{"MessageName":',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    await expect.poll(() => host.output(), { timeout: 5_000 }).toContain('POST /api/dataverse/webhook');
    await expectHealthy();
    expect(host.output()).not.toMatch(/\n\s+at /);
    expect(host.output()).not.toContain('unhandled error');
  });
});

describe('the key is checked before the method', () => {
  it('answers 401, not 405, to a wrong method on a keyed route without the key', async () => {
    const answer = await host.request('/api/jobs', { method: 'DELETE', key: null });
    expect(answer.status).toBe(401);
    const withKey = await host.request('/api/jobs', { method: 'DELETE' });
    expect(withKey.status).toBe(405);
    // An anonymous route has nothing to hide.
    expect((await host.request('/api/health', { method: 'DELETE', key: null })).status).toBe(405);
  });
});

describe('bodies are read only by operations that take one, and only up to their limit', () => {
  const MB = 1024 * 1024;
  // Socket buffers hold a few MB on their way to the server; the rest of a body must never be sent.
  const WELL_BEFORE_THE_END = 8 * MB;

  it('answers GET /api/health without reading a 50 MB body', async () => {
    const sent = await streamBody(
      host.url,
      `GET /api/health HTTP/1.1\r\nHost: localhost\r\ncontent-length: ${50 * MB}\r\n\r\n`,
      50 * MB,
    );
    expect(sent.completed).toBe(false);
    expect(sent.sentBeforeAnswer).toBeLessThan(WELL_BEFORE_THE_END);
    expect([200, 503]).toContain(sent.status);
    await expectHealthy();
  });

  it('answers DELETE /api/subscriptions/{id} without reading a chunked 50 MB body', async () => {
    const sent = await streamBody(
      host.url,
      'DELETE /api/subscriptions/0123456789abcdef0123456789abcdef?token=x HTTP/1.1\r\nHost: localhost\r\n' +
        'transfer-encoding: chunked\r\n\r\n',
      50 * MB,
      true,
    );
    expect(sent.completed).toBe(false);
    expect(sent.sentBeforeAnswer).toBeLessThan(WELL_BEFORE_THE_END);
    expect([401, 404]).toContain(sent.status);
    await expectHealthy();
  });

  it('answers 413 as soon as a chunked PublishEvent body passes its 64 KiB limit', async () => {
    const sent = await streamBody(
      host.url,
      `POST /api/events HTTP/1.1\r\nHost: localhost\r\nx-functions-key: ${host.key}\r\n` +
        'content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n',
      50 * MB,
      true,
    );
    expect(sent.completed).toBe(false);
    expect(sent.sentBeforeAnswer).toBeLessThan(WELL_BEFORE_THE_END);
    expect(sent.status).toBe(413);
    expect(sent.text).toContain('"code":"PayloadTooLarge"');
    expect(sent.text).toContain('65536 bytes');
  });

  it('answers 413 to a Content-Length over the limit before any of the body is read', async () => {
    const sent = await streamBody(
      host.url,
      `POST /api/subscriptions HTTP/1.1\r\nHost: localhost\r\nx-functions-key: ${host.key}\r\n` +
        `content-type: application/json\r\ncontent-length: ${50 * MB}\r\n\r\n`,
      50 * MB,
    );
    expect(sent.completed).toBe(false);
    expect(sent.sentBeforeAnswer).toBeLessThan(WELL_BEFORE_THE_END);
    expect(sent.status).toBe(413);
    expect(sent.text).toContain('16384 bytes');
    await expectHealthy();
  });

  it('still reads a body within the limit', async () => {
    const answer = await host.request('/api/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        table: 'contact',
        rowId: '6d81597f-0f9f-e711-8122-000d3aa2331c',
        message: 'Update',
        attributes: { padding: 'x'.repeat(60_000) },
      }),
    });
    expect(answer.status).toBe(202);
  });
});

describe('error messages never repeat a value the caller sent', () => {
  it('says what was not found without quoting the id', async () => {
    const id = '0123456789abcdef0123456789abcdef';
    for (const [method, path] of [
      ['GET', `/api/jobs/${id}`],
      ['POST', `/api/jobs/${id}/replay`],
      ['DELETE', `/api/subscriptions/${id}?token=${'t'.repeat(43)}`],
      ['GET', '/api/tables/contact/rows/6d81597f-0f9f-e711-8122-000d3aa23310'],
    ] as const) {
      const answer = await host.request(path, { method });
      expect(answer.status, path).toBe(404);
      const text = await answer.text();
      expect(text, path).not.toContain(id);
      expect(text, path).not.toContain('6d81597f');
    }
  });
});
