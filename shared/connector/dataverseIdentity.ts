/**
 * Who a Dataverse operation acts as. With a valid Microsoft Entra ID bearer token (the connector's OAuth connection):
 * the caller, by impersonation (`CallerObjectId` = the token's `oid`), so Dataverse security roles apply to the maker.
 * With the function key alone: the application user, and only when `BRIDGE_DATAVERSE_APP_OPERATIONS` is `true`
 * (whoever holds the key then acts with the application user's privileges); otherwise 403.
 *
 * The Functions host has already checked the function key (the routes keep `authLevel: function`; the OAuth
 * connection sends the key too, see connector/README.md), so the token is about identity, not admission.
 */
import {
  bearerToken,
  InvalidTokenError,
  SigningKeysUnavailableError,
  type TokenValidator,
} from '../auth/bearerToken.js';
import type { AuthSettings } from '../config.js';
import type { DataverseApi } from '../dataverseApi/types.js';
import { type ApiResponse, apiError } from './responses.js';

/** What every Dataverse operation needs, wired by `shared/runtime.ts` (`getDataverseOperationDeps`). */
export interface DataverseOperationDeps {
  /** Whether `DATAVERSE_URL` is set. */
  configured: boolean;
  auth: AuthSettings | undefined;
  appOperations: boolean;
  api(): Promise<DataverseApi>;
  validator(): Promise<TokenValidator | undefined>;
}

/**
 * Runs a Dataverse operation with the client acting for this request (see {@link actingApi}), or answers 404 when
 * Dataverse is not configured and the 401/403/503 of the identity check.
 *
 * @example
 * return withDataverse(request.headers.get('authorization'), getDataverseOperationDeps(), (api) => listDataverseTables(api));
 */
export async function withDataverse(
  authorization: string | null,
  deps: DataverseOperationDeps,
  run: (api: DataverseApi) => Promise<ApiResponse>,
): Promise<ApiResponse> {
  if (!deps.configured) {
    // Not a fault of the service (a 5xx would page whoever watches it): these operations do not exist here until a
    // DATAVERSE_URL is set.
    return apiError(
      404,
      'DataverseNotConfigured',
      'Dataverse operations are off in this deployment: DATAVERSE_URL is not set.',
    );
  }
  const [api, validator] = await Promise.all([deps.api(), deps.validator()]);
  const acting = await actingApi({ authorization, auth: deps.auth, appOperations: deps.appOperations, validator }, api);
  return 'status' in acting ? acting : run(acting);
}

/** What deciding needs: the request's `Authorization` header, the settings, and how to validate a token. */
export interface IdentityInput {
  authorization: string | null;
  auth: AuthSettings | undefined;
  appOperations: boolean;
  validator: TokenValidator | undefined;
}

/**
 * The client to use for this request (impersonating the caller, or the app's own), or the 401/403/503 to answer.
 *
 * @example
 * const acting = await actingApi({ authorization, auth, appOperations, validator }, api);
 * if ('status' in acting) return acting;
 */
export async function actingApi(input: IdentityInput, api: DataverseApi): Promise<DataverseApi | ApiResponse> {
  let token: string | undefined;
  try {
    token = bearerToken(input.authorization);
  } catch (error) {
    return unauthorized(input.auth, (error as Error).message);
  }
  if (token === undefined) {
    if (input.appOperations) return api;
    const refused = apiError(
      403,
      'UserIdentityRequired',
      'Dataverse operations run as the signed-in user: call them through a Microsoft Entra ID connection (a bearer token). ' +
        'To let a function key alone run them as the application user, set BRIDGE_DATAVERSE_APP_OPERATIONS=true ' +
        '(anyone holding the key then acts with that user’s privileges).',
      'Authorization',
    );
    // The challenge tells an OAuth client what to send; the status stays 403, since the function key was accepted.
    const realm = input.auth?.audiences[0];
    return realm ? { ...refused, headers: { 'WWW-Authenticate': `Bearer realm="${realm}"` } } : refused;
  }
  if (!input.auth || !input.validator) {
    return unauthorized(
      undefined,
      'This app does not accept Microsoft Entra ID tokens: set BRIDGE_AUTH_TENANT_ID and BRIDGE_AUTH_AUDIENCE.',
    );
  }
  try {
    const caller = await input.validator.validate(token);
    return api.as(caller.objectId);
  } catch (error) {
    if (error instanceof InvalidTokenError) return unauthorized(input.auth, error.message);
    if (error instanceof SigningKeysUnavailableError) {
      return {
        ...apiError(503, 'SigningKeysUnavailable', `${error.message} Try again later.`, 'Authorization'),
        headers: { 'Retry-After': '30' },
      };
    }
    throw error;
  }
}

/** 401 with the `WWW-Authenticate` challenge of RFC 6750 (the description never holds the token). */
function unauthorized(auth: AuthSettings | undefined, message: string): ApiResponse {
  const realm = auth?.audiences[0] ?? 'dataverse-bridge';
  const challenge = `Bearer realm="${realm}", error="invalid_token", error_description="${message.replaceAll('"', "'")}"`;
  return { ...apiError(401, 'InvalidToken', message, 'Authorization'), headers: { 'WWW-Authenticate': challenge } };
}
