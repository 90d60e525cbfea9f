import { buildDefinition } from './openapi.js';
import type { ApiResponse } from './responses.js';

// A host name, IPv4 or bracketed IPv6 address, with an optional port: anything else in a forwarded header is ignored
// rather than written into the definition.
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * `GET /api/openapi.json` (anonymous): the connector definition, with `host` set to the host that served it (the
 * first `X-Forwarded-Host` when a proxy or Front Door sits in front, else the request's host) and `schemes` to the
 * request's protocol, so "Import from URL" in the maker portal yields a connector that calls this deployment.
 *
 * @example
 * openApiDefinition(new URL('https://contoso-bridge.azurewebsites.net/api/openapi.json'));
 * // { status: 200, jsonBody: { swagger: '2.0', host: 'contoso-bridge.azurewebsites.net', schemes: ['https'], … } }
 */
export function openApiDefinition(requestUrl: URL, forwardedHost?: string): ApiResponse {
  const { host } = publicUrl(requestUrl, forwardedHost);
  const scheme = requestUrl.protocol.replace(/:$/, '');
  return {
    status: 200,
    // A fresh build per request (about a millisecond, and rarely asked for): nothing is shared between answers.
    // Spreading keeps the key order of the generated definition.
    jsonBody: { ...buildDefinition({ host }), schemes: [scheme] },
    headers: { 'Cache-Control': 'no-cache' },
  };
}

/**
 * The request URL as its caller addressed it: with the first valid `X-Forwarded-Host` (a proxy or Front Door in front)
 * as its host, else unchanged. Used wherever we hand out a URL to call us back on.
 *
 * @example
 * publicUrl(new URL('http://10.0.0.4/api/subscriptions'), 'bridge.contoso.com').origin; // 'http://bridge.contoso.com'
 */
export function publicUrl(requestUrl: URL, forwardedHost?: string | null): URL {
  const forwarded = forwardedHost?.split(',')[0]?.trim();
  if (!forwarded || !HOST.test(forwarded)) return requestUrl;
  const url = new URL(requestUrl.href);
  url.host = forwarded;
  // Setting a host without a port keeps the old port; the forwarded host without one means the scheme's default.
  if (!/:\d{1,5}$/.test(forwarded)) url.port = '';
  return url;
}
