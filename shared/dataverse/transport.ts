import type { TransportFacts } from './normalize.js';

/** The Service Bus application property names Dataverse sets on every message. */
export const DATAVERSE_PROPERTIES = {
  organization: 'http://schemas.microsoft.com/xrm/2011/Claims/Organization',
  user: 'http://schemas.microsoft.com/xrm/2011/Claims/User',
  initiatingUser: 'http://schemas.microsoft.com/xrm/2011/Claims/InitiatingUser',
  entityLogicalName: 'http://schemas.microsoft.com/xrm/2011/Claims/EntityLogicalName',
  requestName: 'http://schemas.microsoft.com/xrm/2011/Claims/RequestName',
  initiatingUserAgent: 'http://schemas.microsoft.com/xrm/2011/Claims/InitiatingUserAgent',
  messageMaxSizeExceeded: 'MessageMaxSizeExceeded',
} as const;

/**
 * The names a Dataverse property can arrive under: as Dataverse set it, and as the Functions host passes it (the
 * `@azure/functions` library camelCases trigger metadata keys, so `MessageMaxSizeExceeded` becomes
 * `messageMaxSizeExceeded`; the claim URIs start in lower case and are unchanged).
 */
export const DATAVERSE_PROPERTY_NAMES: readonly string[] = [
  ...new Set(
    Object.values(DATAVERSE_PROPERTIES).flatMap((name) => [name, name.charAt(0).toLowerCase() + name.slice(1)]),
  ),
];

/** The HTTP headers Dataverse sends with a webhook request. */
export const DATAVERSE_HEADERS = {
  organization: 'x-ms-dynamics-organization',
  entityName: 'x-ms-dynamics-entity-name',
  requestName: 'x-ms-dynamics-request-name',
  correlationRequestId: 'x-ms-correlation-request-id',
  messageSizeExceeded: 'x-ms-dynamics-msg-size-exceeded',
} as const;

/** Headers as a plain record (any case) or a WHATWG `Headers`-like object. */
export type HeaderSource =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/** What the transport knows about a message besides its body. */
export interface TransportInfo {
  /** `application/json` (with an optional charset), `application/xml` or `application/msbin1`. */
  contentType?: string | null;
  /** Service Bus application properties (`applicationProperties` / `userProperties`). */
  applicationProperties?: Readonly<Record<string, unknown>> | null;
  /** Webhook request headers. */
  headers?: HeaderSource | null;
}

/** Reads a header by name, case-insensitively, from either kind of header source. */
export function headerValue(headers: HeaderSource | null | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof headers.get === 'function')
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  let value = record[name];
  if (value === undefined) {
    for (const key in record) {
      if (key.toLowerCase() === name) {
        value = record[key];
        break;
      }
    }
  }
  return Array.isArray(value) ? value[0] : (value as string | undefined);
}

/**
 * Derives the transport facts the normalized context carries: whether Dataverse dropped parts of an oversized
 * message, and the environment's URL.
 */
export function transportFacts(transport: TransportInfo | undefined): TransportFacts {
  const properties = transport?.applicationProperties ?? undefined;
  const headers = transport?.headers ?? undefined;
  const sizeFlag =
    property(properties, DATAVERSE_PROPERTIES.messageMaxSizeExceeded) ??
    headerValue(headers, DATAVERSE_HEADERS.messageSizeExceeded);
  const organization =
    property(properties, DATAVERSE_PROPERTIES.organization) ?? headerValue(headers, DATAVERSE_HEADERS.organization);
  return { messageMaxSizeExceeded: isTrue(sizeFlag), organizationUrl: organizationUrl(organization) };
}

/** A Dataverse property under its own name or the camelCased one the Functions host passes. */
function property(properties: Readonly<Record<string, unknown>> | undefined, name: string): unknown {
  return properties?.[name] ?? properties?.[name.charAt(0).toLowerCase() + name.slice(1)];
}

function isTrue(flag: unknown): boolean {
  if (flag === undefined || flag === null || flag === false) return false;
  if (typeof flag === 'string') return flag.trim().toLowerCase() !== 'false' && flag.trim() !== '0';
  return true;
}

/** `contoso.crm.dynamics.com` or `https://contoso.crm.dynamics.com/` → `https://contoso.crm.dynamics.com`. */
export function organizationUrl(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (text === '') return null;
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : null;
  } catch {
    return null;
  }
}
