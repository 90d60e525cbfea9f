import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a local service that counts the requests passing through: real round trips, and of them
 * the writes (any method but GET and HEAD).
 */
export async function startCountingProxy(
  target: URL,
): Promise<{ url: string; count(): number; writes(): number; stop(): Promise<void> }> {
  let requests = 0;
  let writes = 0;
  const server = createServer((req, res) => {
    requests++;
    if (req.method !== 'GET' && req.method !== 'HEAD') writes++;
    const forward = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    count: () => requests,
    writes: () => writes,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
