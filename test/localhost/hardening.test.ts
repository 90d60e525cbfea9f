import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHost, startLocalHost } from '../helpers/localHost.js';
import { openSocket, rawExchange } from '../helpers/rawHttp.js';

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
