/**
 * The key an endpoint needs, read from Azure with the user's own credential when the azd environment names the
 * resources — so that `register` needs no key pasted into a shell. Two Azure Resource Manager operations:
 * - the Send rule's key of the bridge's Service Bus queue or topic: "Queues - Authorization Rules - List Keys" /
 *   "Topics - Authorization Rules - List Keys"
 *   (https://learn.microsoft.com/rest/api/servicebus/controlplane-stable/queues-authorization-rules/list-keys):
 *   `POST …/namespaces/{ns}/queues|topics/{name}/authorizationRules/{rule}/ListKeys?api-version=2021-11-01` answers
 *   `{ primaryKey, secondaryKey, primaryConnectionString, … }`;
 * - the webhook function's key: "Web Apps - List Function Keys"
 *   (https://learn.microsoft.com/rest/api/appservice/web-apps/list-function-keys):
 *   `POST …/providers/Microsoft.Web/sites/{name}/functions/{function}/listkeys?api-version=2024-04-01` answers a
 *   StringDictionary, `{ properties: { default: "…", … } }`.
 * Errors are `{ error: { code, message } }`.
 */
import type { TokenCredential } from '@azure/identity';
import type { EndpointSpec } from './registrationFile.js';

const SERVICE_BUS_API_VERSION = '2021-11-01';
const WEB_API_VERSION = '2024-04-01';

/** The function Dataverse's webhook posts to (functions/dataverseWebhook.ts). */
const WEBHOOK_FUNCTION = 'dataverseWebhook';

/** The azd outputs (infra/main.bicep) that name the resources. */
const AZD = {
  subscription: 'AZURE_SUBSCRIPTION_ID',
  resourceGroup: 'AZURE_RESOURCE_GROUP',
  namespace: 'SERVICEBUS_NAMESPACE',
  functionApp: 'AZURE_FUNCTION_APP_NAME',
  webhookUrl: 'DATAVERSE_WEBHOOK_URL',
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
 * file uses (then the caller asks for `DATAVERSE_SAS_KEY`). Webhook endpoints: see {@link webhookKeyFromAzure}.
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
  const entity = endpoint.transport === 'topic' ? 'topics' : 'queues';
  const body = await postToResourceManager(
    [
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
      `ListKeys?api-version=${SERVICE_BUS_API_VERSION}`,
    ],
    {
      what: `the key of rule "${endpoint.sasKeyName}" of ${entity.slice(0, -1)} "${endpoint.path}" in ${namespace}`,
      instead: 'or set DATAVERSE_SAS_KEY',
      notFound: 'check namespace, path and sasKeyName in the file against "azd env get-values"',
      forbidden: 'your account needs the listKeys right on it (e.g. Contributor on the namespace)',
    },
    options,
  );
  const key = (body as { primaryKey?: unknown }).primaryKey;
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/**
 * The `default` key of the app's `dataverseWebhook` function, which Dataverse sends as `?code=` (WebhookKey), or
 * undefined when the environment does not name the function app whose webhook URL the file uses (then the caller asks
 * for `DATAVERSE_WEBHOOK_KEY`).
 */
export async function webhookKeyFromAzure(
  endpoint: EndpointSpec,
  env: NodeJS.ProcessEnv,
  options: AzureKeyOptions = {},
): Promise<string | undefined> {
  if (endpoint.transport !== 'webhook') return undefined;
  const subscription = env[AZD.subscription]?.trim();
  const resourceGroup = env[AZD.resourceGroup]?.trim();
  const app = env[AZD.functionApp]?.trim();
  const webhookUrl = env[AZD.webhookUrl]?.trim();
  if (!subscription || !resourceGroup || !app || !webhookUrl || !sameUrl(webhookUrl, endpoint.url)) return undefined;
  const body = await postToResourceManager(
    [
      'subscriptions',
      subscription,
      'resourceGroups',
      resourceGroup,
      'providers/Microsoft.Web/sites',
      app,
      'functions',
      WEBHOOK_FUNCTION,
      `listkeys?api-version=${WEB_API_VERSION}`,
    ],
    {
      what: `the key of function ${WEBHOOK_FUNCTION} in ${app}`,
      instead: 'or set DATAVERSE_WEBHOOK_KEY',
      notFound: 'check that the app is deployed (azd deploy) and url in the file against "azd env get-values"',
      forbidden: 'your account needs the listKeys right on it (e.g. Contributor on the function app)',
    },
    options,
  );
  const key = (body as { properties?: { default?: unknown } }).properties?.default;
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/** The key the endpoint's transport needs, from Azure: the Send rule's key, or the webhook function's key. */
export function keyFromAzure(
  endpoint: EndpointSpec,
  env: NodeJS.ProcessEnv,
  options: AzureKeyOptions = {},
): Promise<string | undefined> {
  return endpoint.transport === 'webhook'
    ? webhookKeyFromAzure(endpoint, env, options)
    : serviceBusKeyFromAzure(endpoint, env, options);
}

/** Whether two URLs name the same endpoint: scheme, host and path, ignoring case of the host and a trailing slash. */
function sameUrl(a: string, b: string | undefined): boolean {
  if (b === undefined) return false;
  try {
    const [x, y] = [new URL(a), new URL(b)];
    const path = (u: URL) => u.pathname.replace(/\/+$/, '');
    return x.protocol === y.protocol && x.host === y.host && path(x) === path(y);
  } catch {
    return false;
  }
}

interface KeyRequest {
  /** What is read, for messages (never the key). */
  what: string;
  /** What the user can do instead. */
  instead: string;
  notFound: string;
  forbidden: string;
}

/** POSTs an ARM list-keys operation with the user's token; throws {@link AzureKeyError} saying what to do. */
async function postToResourceManager(parts: string[], request: KeyRequest, options: AzureKeyOptions): Promise<unknown> {
  const base = (options.resourceManagerUrl ?? 'https://management.azure.com').replace(/\/+$/, '');
  const path = parts
    .map((part) => (part.includes('/') || part.includes('?') ? part : encodeURIComponent(part)))
    .join('/');
  const { what, instead } = request;
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
    response = await fetch(`${base}/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-length': '0' },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new AzureKeyError(`cannot read ${what} from Azure: ${(error as Error).message} ${instead}`);
  }
  const body = (await response.json().catch(() => ({}))) as { error?: { code?: unknown } };
  if (!response.ok) {
    // Only the error code: ARM's messages are safe, but the code is what the user acts on.
    const code = typeof body.error?.code === 'string' ? body.error.code : `HTTP ${response.status}`;
    const hint = response.status === 403 ? request.forbidden : response.status === 404 ? request.notFound : 'try again';
    throw new AzureKeyError(`cannot read ${what} from Azure (${code}): ${hint}, ${instead}`);
  }
  return body;
}

async function defaultCredential(): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential();
}
