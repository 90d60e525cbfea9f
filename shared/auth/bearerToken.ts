/**
 * Validation of the Microsoft Entra ID access tokens the connector's OAuth connection sends (`Authorization: Bearer`),
 * with `jose`: the signature against the tenant's published signing keys (the `jwks_uri` of its OpenID Connect
 * metadata, fetched once and cached by `jose`, refetched when a token names an unknown key), the algorithm (RS256 only,
 * so `alg: none` and HMAC tokens are refused), issuer, audience, tenant (`tid`), expiry and not-before, and the
 * caller's object id (`oid`), which Dataverse impersonation needs. Follows "Access tokens in the Microsoft identity
 * platform" (https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-tokens) and "Access token
 * claims reference" (…/access-token-claims-reference). Nothing here logs or returns the token.
 */
import type { JWTVerifyGetKey } from 'jose';
import type { AuthSettings } from '../config.js';
import { PermanentError, TransientError } from '../errors.js';

/** Who called, from a valid token. */
export interface Caller {
  /** The Entra object id of the user (or service principal): what Dataverse impersonation takes. */
  objectId: string;
  tenantId: string;
}

/** The token is missing or not acceptable: answer 401 with `WWW-Authenticate`. Never carries the token. */
export class InvalidTokenError extends PermanentError {
  override readonly name = 'InvalidTokenError';
  readonly code = 'InvalidToken';
}

/** The signing keys could not be fetched (Entra or the network is down): answer 503, the caller may retry. */
export class SigningKeysUnavailableError extends TransientError {
  override readonly name = 'SigningKeysUnavailableError';
  readonly code = 'SigningKeysUnavailable';
}

/** Clock skew allowed on `exp` and `nbf`, as Microsoft's own token handlers allow by default. */
export const CLOCK_SKEW_SECONDS = 300;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The bearer token of an `Authorization` header: undefined when there is no header, an `InvalidTokenError` when the
 * header is there but is not `Bearer <token>`.
 */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)$/i.exec(header.trim());
  if (!match) throw new InvalidTokenError('The Authorization header must be "Bearer <access token>".');
  return match[1] as string;
}

/** A validator for one set of settings, with its key set cached for the life of the process. */
export interface TokenValidator {
  validate(token: string): Promise<Caller>;
}

/**
 * Builds a validator. The metadata document is read on the first token, then kept; `jose` caches the keys and
 * refetches them (at most every 30 s) when a token is signed by a key it does not know, which is how Entra's key
 * rollover is followed.
 *
 * @example
 * const validator = tokenValidator(getConfig().auth);
 * const { objectId } = await validator.validate(token); // or throws InvalidTokenError
 */
export function tokenValidator(settings: AuthSettings): TokenValidator {
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const keySet = () => {
    keys ??= loadKeySet(settings).catch((error: unknown) => {
      keys = undefined; // try again on the next call
      throw error;
    });
    return keys;
  };
  return {
    async validate(token) {
      const jose = await import('jose');
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jose.jwtVerify(token, await keySet(), {
          algorithms: ['RS256'],
          issuer: settings.issuers,
          audience: settings.audiences,
          clockTolerance: CLOCK_SKEW_SECONDS,
          requiredClaims: ['exp', 'tid', 'oid'],
        }));
      } catch (error) {
        throw describe(error, jose);
      }
      const tenantId = String(payload.tid).toLowerCase();
      if (tenantId !== settings.tenantId) {
        throw new InvalidTokenError('The token was issued for another tenant (tid) than BRIDGE_AUTH_TENANT_ID.');
      }
      const objectId = String(payload.oid);
      if (!GUID.test(objectId)) throw new InvalidTokenError('The token has no object id (oid) of a user.');
      return { objectId: objectId.toLowerCase(), tenantId };
    },
  };
}

async function loadKeySet(settings: AuthSettings): Promise<JWTVerifyGetKey> {
  const jose = await import('jose');
  let jwksUri: string;
  try {
    const response = await fetch(settings.metadataUrl, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const metadata = (await response.json()) as { jwks_uri?: unknown };
    if (typeof metadata.jwks_uri !== 'string') throw new Error('no jwks_uri');
    jwksUri = metadata.jwks_uri;
  } catch (error) {
    throw new SigningKeysUnavailableError(
      `The signing keys of the tenant could not be read from BRIDGE_AUTH_METADATA_URL's document: ${error instanceof Error ? error.message : String(error)}.`,
    );
  }
  const keysUrl = new URL(jwksUri);
  // The keys come from where the metadata said, over https (http only when the metadata itself is local http).
  if (keysUrl.protocol !== 'https:' && keysUrl.origin !== new URL(settings.metadataUrl).origin) {
    throw new SigningKeysUnavailableError('The jwks_uri of the OpenID metadata is not an https URL.');
  }
  return jose.createRemoteJWKSet(keysUrl, { timeoutDuration: 10_000, cooldownDuration: 30_000 });
}

/** A jose failure as a sentence a caller can act on; never the token or its claims' values. */
function describe(error: unknown, jose: typeof import('jose')): Error {
  const { errors } = jose;
  if (error instanceof errors.JWKSTimeout || (error instanceof errors.JOSEError && error.code === 'ERR_JOSE_GENERIC')) {
    return new SigningKeysUnavailableError('The signing keys of the tenant could not be fetched in time.');
  }
  if (error instanceof errors.JWTExpired) return new InvalidTokenError('The token has expired; get a new one.');
  if (error instanceof errors.JWTClaimValidationFailed) {
    const claim = error.claim;
    const what: Record<string, string> = {
      nbf: 'The token is not valid yet (nbf).',
      iss: 'The token was not issued by the tenant BRIDGE_AUTH_TENANT_ID names (iss).',
      aud: 'The token is for another audience (aud) than BRIDGE_AUTH_AUDIENCE.',
    };
    return new InvalidTokenError(what[claim] ?? `The token's ${claim} claim is missing or not valid.`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new InvalidTokenError('The token is not signed with RS256.');
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWSSignatureVerificationFailed) {
    return new InvalidTokenError('The token is not signed by a key the tenant publishes.');
  }
  if (error instanceof errors.JOSEError) return new InvalidTokenError('The token is not a valid signed JWT.');
  if (error instanceof SigningKeysUnavailableError) return error;
  if (error instanceof Error && /fetch|network|ECONN/i.test(error.message)) {
    return new SigningKeysUnavailableError('The signing keys of the tenant could not be fetched.');
  }
  return new InvalidTokenError('The token is not a valid signed JWT.');
}
