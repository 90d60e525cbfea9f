import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { openApiDefinition } from '../../shared/connector/openApiDefinition.js';
import { buildDefinition } from '../../shared/connector/openapi.js';
import { lintDefinition } from '../../tools/connector/lint.js';

type Body = Record<string, unknown>;

describe('GET /api/openapi.json', () => {
  it('answers the definition with the host that served it and its protocol', () => {
    const response = openApiDefinition(new URL('https://contoso-bridge.azurewebsites.net/api/openapi.json'));
    expect(response.status).toBe(200);
    const body = response.jsonBody as Body;
    expect(body.host).toBe('contoso-bridge.azurewebsites.net');
    expect(body.schemes).toEqual(['https']);
    const { host: _host, schemes: _schemes, ...rest } = body;
    const { host: _h, schemes: _s, ...generated } = buildDefinition();
    expect(rest).toEqual(generated);
    // Same key order as the committed file: only the two values change.
    expect(Object.keys(body)).toEqual(Object.keys(buildDefinition()));
  });

  it('follows http and a port for the local host', () => {
    const body = openApiDefinition(new URL('http://localhost:7071/api/openapi.json')).jsonBody as Body;
    expect(body.host).toBe('localhost:7071');
    expect(body.schemes).toEqual(['http']);
  });

  it('prefers the first X-Forwarded-Host, and ignores one that is not a host name', () => {
    const url = new URL('https://contoso-bridge.azurewebsites.net/api/openapi.json');
    expect((openApiDefinition(url, 'bridge.contoso.com').jsonBody as Body).host).toBe('bridge.contoso.com');
    expect((openApiDefinition(url, ' bridge.contoso.com:8443 , proxy.internal').jsonBody as Body).host).toBe(
      'bridge.contoso.com:8443',
    );
    for (const bad of ['evil.example/path', 'a b', '', 'x"}, "paths": {'])
      expect((openApiDefinition(url, bad).jsonBody as Body).host, bad).toBe('contoso-bridge.azurewebsites.net');
  });

  it('serves a valid definition over HTTP, for the host the client asked', async () => {
    const server = createServer((req, res) => {
      const response = openApiDefinition(
        new URL(req.url ?? '/', `http://${req.headers.host}`),
        req.headers['x-forwarded-host'] as string | undefined,
      );
      res.writeHead(response.status, { 'content-type': 'application/json', ...response.headers });
      res.end(JSON.stringify(response.jsonBody));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const port = (server.address() as AddressInfo).port;
      const response = await fetch(`http://127.0.0.1:${port}/api/openapi.json`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as Body;
      expect(body.host).toBe(`127.0.0.1:${port}`);
      expect(body.schemes).toEqual(['http']);
      expect(lintDefinition(body)).toEqual([]);
      await expect(SwaggerParser.validate(body as never)).resolves.toBeDefined();
    } finally {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  });
});
