/**
 * The Send rule's key of the bridge's Service Bus queue or topic, read from Azure with the user's own credential when
 * the azd environment names the resources — so that `register` needs no key pasted into a shell. Azure Resource
 * Manager "Queues - Authorization Rules - List Keys" / "Topics - Authorization Rules - List Keys"
 * (https://learn.microsoft.com/rest/api/servicebus/controlplane-stable/queues-authorization-rules/list-keys):
 * `POST …/namespaces/{ns}/queues|topics/{name}/authorizationRules/{rule}/ListKeys?api-version=2021-11-01` answers
 * `{ primaryKey, secondaryKey, primaryConnectionString, … }`; errors are `{ error: { code, message } }`.
 */
import type { TokenCredential } from '@azure/identity';
import type { EndpointSpec } from './registrationFile.js';

const API_VERSION = '2021-11-01';

/** The azd outputs (infra/main.bicep) that name the resources. */
const AZD = {
  subscription: 'AZURE_SUBSCRIPTION_ID',
  resourceGroup: 'AZURE_RESOURCE_GROUP',
  namespace: 'SERVICEBUS_NAMESPACE',
} as const;

/** A key could not be read from Azure; the message says what to do instead (it never holds the key). */
export class AzureKeyError extends Error {
  override name = 'AzureKeyError';
}

export interface AzureKeyOptions {
  /** Default: `DefaultAzureCredential` (Azure CLI, azd, environment, …), loaded only when a key is read. */
  credential?: TokenCredential;
  /** Default: https://management.azure.com (tests point it at a local double). */
  resourceManagerUrl?: string;
}

/**
 * The primary key of the endpoint's Send rule, or undefined when the environment does not name the namespace the
 * file uses (then the caller asks for `DATAVERSE_SAS_KEY`). Webhook endpoints: undefined (set `DATAVERSE_WEBHOOK_KEY`).
 */
export async function serviceBusKeyFromAzure(
  endpoint: EndpointSpec,
  env: NodeJS.ProcessEnv,
  options: AzureKeyOptions = {},
): Promise<string | undefined> {
  if (endpoint.transport === 'webhook') return undefined;
  const subscription = env[AZD.subscription]?.trim();
  const resourceGroup = env[AZD.resourceGroup]?.trim();
  const namespace = env[AZD.namespace]?.trim();
  if (!subscription || !resourceGroup || !namespace || namespace.toLowerCase() !== endpoint.namespace?.toLowerCase()) {
    return undefined;
  }
  const base = (options.resourceManagerUrl ?? 'https://management.azure.com').replace(/\/+$/, '');
  const entity = endpoint.transport === 'topic' ? 'topics' : 'queues';
  const path = [
    'subscriptions',
    subscription,
    'resourceGroups',
    resourceGroup,
    'providers/Microsoft.ServiceBus/namespaces',
    namespace,
    entity,
    endpoint.path ?? '',
    'authorizationRules',
    endpoint.sasKeyName ?? '',
    'ListKeys',
  ]
    .map((part) => (part.includes('/') ? part : encodeURIComponent(part)))
    .join('/');
  const what = `the key of rule "${endpoint.sasKeyName}" of ${entity.slice(0, -1)} "${endpoint.path}" in ${namespace}`;
  const instead = `or set DATAVERSE_SAS_KEY`;
  let token: string;
  try {
    const credential = options.credential ?? (await defaultCredential());
    const got = await credential.getToken(`${base}/.default`);
    if (!got) throw new Error('no token');
    token = got.token;
  } catch (error) {
    throw new AzureKeyError(
      `cannot read ${what} from Azure: no Azure sign-in (${(error as Error).name}); run "az login" ${instead}`,
    );
  }
  let response: Response;
  try {
    response = await fetch(`${base}/${path}?api-version=${API_VERSION}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-length': '0' },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new AzureKeyError(`cannot read ${what} from Azure: ${(error as Error).message} ${instead}`);
  }
  const body = (await response.json().catch(() => ({}))) as {
    primaryKey?: unknown;
    error?: { code?: unknown };
  };
  if (!response.ok) {
    // Only the error code: ARM's messages are safe, but the code is what the user acts on.
    const code = typeof body.error?.code === 'string' ? body.error.code : `HTTP ${response.status}`;
    const hint =
      response.status === 403
        ? 'your account needs the listKeys right on it (e.g. Contributor on the namespace)'
        : response.status === 404
          ? 'check namespace, path and sasKeyName in the file against "azd env get-values"'
          : 'try again';
    throw new AzureKeyError(`cannot read ${what} from Azure (${code}): ${hint}, ${instead}`);
  }
  if (typeof body.primaryKey !== 'string' || body.primaryKey === '') {
    throw new AzureKeyError(`Azure answered no key for ${what}; ${instead}`);
  }
  return body.primaryKey;
}

async function defaultCredential(): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential();
}
