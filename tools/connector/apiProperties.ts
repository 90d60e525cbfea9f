/**
 * The connector's `apiProperties.json` with two connection types ("multi-auth"): the function key, and Microsoft
 * Entra ID (OAuth 2.0) plus the function key. Shaped after "Add multiple authentications on a custom connector"
 * (https://learn.microsoft.com/connectors/custom-connectors/multi-auth) and the certified connector that combines an
 * `aad` token with a key the same way, PowerPlatformConnectors
 * `certified-connectors/CognitiveServicesQuestionAnswering/apiProperties.json`: both sets in
 * `connectionParameterSets`, the first one also as `connectionParameters`, and the key sent by a `setheader` policy
 * because the definition then carries no security definition.
 *
 * Why the key comes with the token: the HTTP routes are `authLevel: function`, so the Functions host wants a key on
 * every call before the app can look at the bearer token (see connector/README.md).
 */
import type { SwaggerDefinition } from '../../shared/connector/openapi.js';

/** The header the Functions host reads a key from. */
export const FUNCTION_KEY_HEADER = 'x-functions-key';

/** What the Entra ID connection needs: the connector's client app, the API app it asks a token for, the tenant. */
export interface EntraOptions {
  /** Application (client) id of the connector's app registration (a GUID). */
  clientId: string;
  /** The API app's Application ID URI (`api://…` or an https URI): the token's audience. */
  resourceUri: string;
  /** Directory (tenant) id (a GUID); the apps are registered single-tenant. */
  tenantId: string;
}

/** A wrong Entra option: which option, and what to give instead. */
export class EntraOptionError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
    this.name = 'EntraOptionError';
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks the Entra options and returns them trimmed; throws an {@link EntraOptionError} naming the first bad one.
 *
 * @example
 * validateEntraOptions({ clientId: '6d81597f-…', resourceUri: 'api://dataverse-bridge', tenantId: '…' });
 */
export function validateEntraOptions(options: EntraOptions): EntraOptions {
  const clientId = options.clientId.trim();
  const tenantId = options.tenantId.trim();
  const resourceUri = options.resourceUri.trim();
  if (!GUID.test(clientId))
    throw new EntraOptionError(
      '--entra-client-id',
      `"${clientId}" is not a GUID: give the Application (client) id of the connector's app registration, ` +
        'e.g. 6d81597f-0a3b-4c1e-9f3a-2b7c8d9e0f11.',
    );
  if (!GUID.test(tenantId))
    throw new EntraOptionError(
      '--entra-tenant-id',
      `"${tenantId}" is not a GUID: give the Directory (tenant) id (Entra admin center, Overview), the value of ` +
        'BRIDGE_AUTH_TENANT_ID.',
    );
  if (!isResourceUri(resourceUri))
    throw new EntraOptionError(
      '--entra-resource-uri',
      `"${resourceUri}" is not an Application ID URI: give the API app's URI from "Expose an API", ` +
        'e.g. api://<its client id> or https://contoso.onmicrosoft.com/dataverse-bridge.',
    );
  return { clientId, resourceUri, tenantId };
}

function isResourceUri(value: string): boolean {
  if (/\s/.test(value)) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'api:') return value.length > 'api://'.length;
  return url.protocol === 'https:' && url.hostname !== '' && url.search === '' && url.hash === '';
}

/** The function key parameter, as the committed single-auth `connector/apiProperties.json` declares it. */
function functionKeyParameter(tabIndex: number, inSet: boolean) {
  const description = 'A key of the Dataverse Bridge Function App: its host key, so that every operation accepts it.';
  return {
    type: 'securestring',
    uiDefinition: {
      displayName: 'Function key',
      description,
      tooltip: 'Azure portal: your Function App, then Functions > App keys, then the default host key.',
      // Learn's multi-auth page: inside a set, the description box shows uiDefinition.schema.description.
      ...(inSet ? { schema: { type: 'securestring', description } } : {}),
      constraints: { tabIndex, clearText: false, required: 'true' },
    },
  };
}

/**
 * The multi-auth `apiProperties.json` content: set `functionKey` (the key alone) and set `entraId` (a Microsoft
 * Entra ID sign-in for the API app, plus the key). A `setheader` policy sends the key as `x-functions-key` on every
 * request of either kind of connection.
 *
 * @example
 * const properties = buildMultiAuthProperties(validateEntraOptions({ clientId, resourceUri, tenantId }));
 * properties.properties.connectionParameterSets.values.map((set) => set.name); // ['functionKey', 'entraId']
 */
export function buildMultiAuthProperties(entra: EntraOptions) {
  const keyOnly = { api_key: functionKeyParameter(2, true) };
  return {
    properties: {
      // The first set again, as certified multi-auth connectors keep it, for tools that read only this field.
      connectionParameters: { api_key: functionKeyParameter(2, false) },
      connectionParameterSets: {
        uiDefinition: {
          displayName: 'Authentication type',
          description: 'How the connection proves who calls Dataverse Bridge.',
        },
        values: [
          {
            name: 'functionKey',
            uiDefinition: {
              displayName: 'Function key',
              description:
                "The Function App key alone, for the bridge's own operations (Dataverse rows need Microsoft Entra ID).",
            },
            parameters: keyOnly,
          },
          {
            name: 'entraId',
            uiDefinition: {
              displayName: 'Microsoft Entra ID',
              description: 'Sign in with your work account: the Dataverse operations run as you.',
            },
            parameters: {
              token: {
                type: 'oauthSetting',
                oAuthSettings: {
                  identityProvider: 'aad',
                  clientId: entra.clientId,
                  scopes: [],
                  // Each imported connector gets its own redirect URL (shown on its Security tab), which the client
                  // app registration must list.
                  redirectMode: 'GlobalPerConnector',
                  properties: { IsFirstParty: 'False' },
                  customParameters: {
                    loginUri: { value: 'https://login.microsoftonline.com' },
                    tenantId: { value: entra.tenantId },
                    resourceUri: { value: entra.resourceUri },
                  },
                },
                uiDefinition: {
                  displayName: 'Sign in with Microsoft Entra ID',
                  description: 'Sign in with the work account whose Dataverse security roles the operations use.',
                  tooltip: 'Your Microsoft Entra ID work account',
                  constraints: { required: 'true' },
                },
              },
              api_key: functionKeyParameter(3, true),
            },
          },
        ],
      },
      policyTemplateInstances: [
        {
          templateId: 'setheader',
          title: 'Send the function key',
          parameters: {
            'x-ms-apimTemplateParameter.name': FUNCTION_KEY_HEADER,
            'x-ms-apimTemplateParameter.value': "@connectionParameters('api_key')",
            'x-ms-apimTemplateParameter.existsAction': 'override',
            'x-ms-apimTemplate-policySection': 'Request',
          },
        },
      ],
      iconBrandColor: '#0B6A5A',
      capabilities: [],
      publisher: 'Dataverse Bridge',
      stackOwner: 'Dataverse Bridge',
    },
  };
}

/**
 * The definition to import with the multi-auth properties: the same operations without the `api_key` security
 * definition, since the connection types live in `apiProperties.json` and the key travels by the policy (as in the
 * certified multi-auth connectors, whose definitions declare no security).
 */
export function toMultiAuthDefinition(definition: SwaggerDefinition): SwaggerDefinition {
  return { ...definition, securityDefinitions: {}, security: [] };
}
