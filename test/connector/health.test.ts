import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { appVersion, type Health, health } from '../../shared/connector/health.js';

const ok = async () => {};

async function withServer<T>(run: (endpoint: string, seen: string[]) => Promise<T>): Promise<T> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.headers['aeg-sas-key'] ?? 'no key'}`);
    res.writeHead(401).end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  try {
    return await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/events`, seen);
  } finally {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
}

describe('GET /api/health', () => {
  it('is healthy when storage answers and the topic answers anything, without sending a key or an event', async () => {
    await withServer(async (endpoint, seen) => {
      const response = await health({ pingStorage: ok, eventGrid: { kind: 'topic', endpoint }, version: '1.2.3' });
      expect(response.status).toBe(200);
      const body = response.jsonBody as Health;
      expect(body).toMatchObject({
        status: 'healthy',
        version: '1.2.3',
        checks: { storage: { status: 'ok' }, eventGrid: { status: 'ok' } },
      });
      expect(seen).toEqual(['GET no key']);
    });
  });

  it('reports the local fan-out as local, and a missing topic as a failure naming the setting', async () => {
    const local = (await health({ pingStorage: ok, eventGrid: { kind: 'local' }, version: 'v' })).jsonBody as Health;
    expect(local.status).toBe('healthy');
    expect(local.checks.eventGrid.status).toBe('local');
    const none = await health({ pingStorage: ok, eventGrid: { kind: 'none' }, version: 'v' });
    expect(none.status).toBe(503);
    expect((none.jsonBody as Health).checks.eventGrid.message).toContain('EVENTGRID_TOPIC_ENDPOINT');
  });

  it('answers 503 naming what failed: storage errors, storage timeouts, an unreachable topic', async () => {
    const closed = await withServer(async (endpoint) => endpoint); // the port is free again once this returns
    const response = await health({
      pingStorage: () => new Promise(() => {}),
      eventGrid: { kind: 'topic', endpoint: `${closed}?sig=SECRET` },
      version: 'v',
      timeoutMs: 200,
    });
    expect(response.status).toBe(503);
    const body = response.jsonBody as Health;
    expect(body.checks.storage).toMatchObject({ status: 'failed', message: 'storage did not answer within 200 ms' });
    expect(body.checks.eventGrid.status).toBe('failed');
    expect(body.checks.eventGrid.message).toContain('cannot be reached');
    expect(JSON.stringify(body)).not.toContain('SECRET');

    const failing = await health({
      pingStorage: async () => {
        throw new Error('Storage is unavailable (create table)');
      },
      eventGrid: { kind: 'local' },
      version: 'v',
    });
    expect((failing.jsonBody as Health).checks.storage.message).toBe('Storage is unavailable (create table)');
  });

  it('reads the version from package.json', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(appVersion()).toBe(manifest.version);
  });
});
