import { PermanentError } from './errors.js';

/** A setting is missing or malformed. Raised at start-up, naming the variable. */
export class ConfigError extends PermanentError {
  override readonly name = 'ConfigError';
  readonly code = 'InvalidSetting';
  constructor(
    readonly setting: string,
    problem: string,
  ) {
    super(
      `Setting ${setting} ${problem}. Set it in local.settings.json (Values) locally, or in the app settings in Azure.`,
    );
  }
}

/**
 * Where our tables and blobs live: a connection string, or (in Azure, with a managed identity) the account's service
 * URIs, following the Functions convention for identity-based connections (`AzureWebJobsStorage__accountName`,
 * `__tableServiceUri`, `__blobServiceUri`).
 */
export type StorageSettings =
  | { kind: 'connectionString'; connectionString: string; prefix: string }
  | {
      kind: 'identity';
      tableServiceUri: string;
      blobServiceUri: string;
      /** `__queueServiceUri` (or from `__accountName`): the verification queue of held synchronous contexts. */
      queueServiceUri?: string;
      clientId?: string;
      prefix: string;
    };

export interface EventGridSettings {
  endpoint: string;
  /** Access key; when absent the app authenticates with its identity (DefaultAzureCredential). */
  key?: string;
}

/** Every setting the app reads, validated. */
export interface BridgeConfig {
  storage: StorageSettings;
  /** Absent when no topic is configured: the local host then fans events out in-process. */
  eventGrid?: EventGridSettings;
  queueName: string;
  /** Present only when both topic settings are set; the topic function is registered only then. */
  topic?: { topicName: string; subscriptionName: string };
  /** How long an invocation owns a job it is publishing before another delivery may take it over. */
  leaseSeconds: number;
  /** Webhook-trigger delivery (`deliverSubscriptions`). */
  delivery: DeliverySettings;
  /**
   * Running locally (`AZURE_FUNCTIONS_ENVIRONMENT=Development`, as Core Tools and `npm start` set it): callback URLs
   * may then be http to localhost, and private addresses are allowed.
   */
  localMode: boolean;
  /** Absent when `DATAVERSE_URL` is unset: every Dataverse feature is then off. */
  dataverse?: DataverseSettings;
  /** Reconciliation with Dataverse change tracking (`reconcileChanges`). */
  reconcile: ReconcileSettings;
  /** Microsoft Entra ID bearer tokens of connector users; absent when `BRIDGE_AUTH_TENANT_ID` is unset. */
  auth?: AuthSettings;
  /** Whether Dataverse operations called with a function key alone run as the application user. */
  dataverseAppOperations: boolean;
  /** Holding synchronous contexts until Dataverse shows their operation committed (`verifyHeld`). */
  verify: VerifySettings;
  /**
   * The name of the setting that holds our storage connection (`BRIDGE_STORAGE_CONNECTION` when set, else
   * `AzureWebJobsStorage`): the `connection` of the Queue trigger, which the Functions host resolves as a connection
   * string or, with an identity, as `<name>__queueServiceUri` / `<name>__accountName`.
   */
  storageConnection: string;
}

/**
 * The hold of synchronous contexts (issue 16): Dataverse posts a synchronous step's context before its transaction
 * commits, so the bridge checks the operation committed before publishing (`shared/pipeline/verify.ts`).
 */
export interface VerifySettings {
  /** `DATAVERSE_URL` is set and `BRIDGE_VERIFY_SYNC` is not `false`: synchronous contexts are held. */
  enabled: boolean;
  /** How long after receipt the first check runs (the queue message's visibility delay). */
  delaySeconds: number;
  /** How long after receipt checks go on before an operation that never showed is recorded `rolledBack`. */
  windowSeconds: number;
}

/** How the app validates the bearer tokens of connector users (`shared/auth/bearerToken.ts`). */
export interface AuthSettings {
  tenantId: string;
  /** Accepted `aud` values: the app ID URI (v1 tokens) and the application (client) id (v2 tokens). */
  audiences: string[];
  /** Accepted `iss` values. */
  issuers: string[];
  /** The OpenID Connect metadata document whose `jwks_uri` publishes the signing keys. */
  metadataUrl: string;
}

/** What `reconcileChanges` follows, and when. */
export interface ReconcileSettings {
  /** Logical names of the tables to reconcile; empty: reconciliation is off. */
  tables: string[];
  /** The timer's NCRONTAB schedule (six fields, seconds first), as the Functions host reads it. */
  schedule: string;
}

/** Every 15 minutes: well inside Dataverse's 7-day delta-token retention, and cheap (see README, "Reconciliation"). */
export const DEFAULT_RECONCILE_SCHEDULE = '0 */15 * * * *';

/**
 * How the bridge reaches the Dataverse Web API. `auth` is chosen from the settings: a certificate or a client secret
 * when given, else the app's managed identity in Azure (the developer's own sign-in when running locally), and none at
 * all for an http://localhost URL in Development (a local test double).
 */
export interface DataverseSettings {
  /** The environment URL with no trailing slash, e.g. `https://contoso.crm.dynamics.com`. */
  url: string;
  auth: DataverseAuth;
  /** How long one request may take. */
  timeoutSeconds: number;
  /** How long one call may spend waiting between retries (429 `Retry-After`, back-off) before it gives up. */
  retryBudgetSeconds: number;
}

export type DataverseAuth =
  | { kind: 'none' }
  | { kind: 'certificate'; tenantId: string; clientId: string; certificatePath: string; certificatePassword?: string }
  | { kind: 'secret'; tenantId: string; clientId: string; clientSecret: string }
  /** Managed identity (user-assigned when `clientId` is set); in local mode, the developer's sign-in first. */
  | { kind: 'identity'; clientId?: string; localMode: boolean };

export interface DeliverySettings {
  /** Consecutive failed deliveries after which a subscription is marked unhealthy. */
  unhealthyAfter: number;
  /** How long one callback request may take. */
  timeoutSeconds: number;
}

/** The names of the settings, in one place. Documented in the README ("Settings"). */
export const SETTINGS = {
  storage: 'AzureWebJobsStorage',
  dedicatedStorage: 'BRIDGE_STORAGE_CONNECTION',
  storagePrefix: 'BRIDGE_STORAGE_PREFIX',
  eventGridEndpoint: 'EVENTGRID_TOPIC_ENDPOINT',
  eventGridKey: 'EVENTGRID_TOPIC_KEY',
  queueName: 'DATAVERSE_QUEUE_NAME',
  topicName: 'DATAVERSE_TOPIC_NAME',
  subscriptionName: 'DATAVERSE_SUBSCRIPTION_NAME',
  leaseSeconds: 'BRIDGE_LEASE_SECONDS',
  serviceBusConnection: 'ServiceBusConnection',
  unhealthyAfter: 'BRIDGE_UNHEALTHY_AFTER',
  deliveryTimeoutSeconds: 'BRIDGE_DELIVERY_TIMEOUT_SECONDS',
  environment: 'AZURE_FUNCTIONS_ENVIRONMENT',
  dataverseUrl: 'DATAVERSE_URL',
  dataverseTenantId: 'DATAVERSE_TENANT_ID',
  dataverseClientId: 'DATAVERSE_CLIENT_ID',
  dataverseCertificatePath: 'DATAVERSE_CERTIFICATE_PATH',
  dataverseCertificatePassword: 'DATAVERSE_CERTIFICATE_PASSWORD',
  dataverseClientSecret: 'DATAVERSE_CLIENT_SECRET',
  dataverseTimeoutSeconds: 'DATAVERSE_TIMEOUT_SECONDS',
  dataverseRetryBudgetSeconds: 'DATAVERSE_RETRY_BUDGET_SECONDS',
  reconcileTables: 'BRIDGE_RECONCILE_TABLES',
  reconcileSchedule: 'BRIDGE_RECONCILE_SCHEDULE',
  authTenantId: 'BRIDGE_AUTH_TENANT_ID',
  authAudience: 'BRIDGE_AUTH_AUDIENCE',
  authIssuer: 'BRIDGE_AUTH_ISSUER',
  authMetadataUrl: 'BRIDGE_AUTH_METADATA_URL',
  dataverseAppOperations: 'BRIDGE_DATAVERSE_APP_OPERATIONS',
  verifySync: 'BRIDGE_VERIFY_SYNC',
  verifyDelaySeconds: 'BRIDGE_VERIFY_DELAY_SECONDS',
  verifyWindowSeconds: 'BRIDGE_VERIFY_WINDOW_SECONDS',
  /** `dataverse-bridge register` only: the Send rule's key, for a queue or topic service endpoint. Never logged. */
  dataverseSasKey: 'DATAVERSE_SAS_KEY',
  /** `dataverse-bridge register` only: the webhook function's key, for a webhook service endpoint. Never logged. */
  dataverseWebhookKey: 'DATAVERSE_WEBHOOK_KEY',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === '' ? undefined : value;
}

function required(env: Env, name: string): string {
  const value = read(env, name);
  if (value === undefined) throw new ConfigError(name, 'is not set');
  return value;
}

function url(name: string, value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, `must be a URL such as https://<topic>.<region>-1.eventgrid.azure.net/api/events`);
  }
  const local = parsed.hostname === 'localhost' || parsed.hostname === '127.0.0.1' || parsed.hostname === '[::1]';
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && local)) {
    throw new ConfigError(name, 'must use https (http is accepted only for localhost)');
  }
  return value;
}

function storageSettings(env: Env): StorageSettings {
  const prefix = read(env, SETTINGS.storagePrefix) ?? 'bridge';
  if (!/^[a-z][a-z0-9]{2,20}$/.test(prefix)) {
    throw new ConfigError(SETTINGS.storagePrefix, 'must be 3-21 lower-case letters or digits, starting with a letter');
  }
  const connectionString = read(env, SETTINGS.dedicatedStorage) ?? read(env, SETTINGS.storage);
  if (connectionString !== undefined) return { kind: 'connectionString', connectionString, prefix };
  const base = SETTINGS.storage;
  const account = read(env, `${base}__accountName`);
  const tableServiceUri =
    read(env, `${base}__tableServiceUri`) ?? (account ? `https://${account}.table.core.windows.net` : undefined);
  const blobServiceUri =
    read(env, `${base}__blobServiceUri`) ?? (account ? `https://${account}.blob.core.windows.net` : undefined);
  const queueServiceUri =
    read(env, `${base}__queueServiceUri`) ?? (account ? `https://${account}.queue.core.windows.net` : undefined);
  if (tableServiceUri && blobServiceUri) {
    const clientId = read(env, `${base}__clientId`);
    return {
      kind: 'identity',
      tableServiceUri,
      blobServiceUri,
      prefix,
      ...(queueServiceUri ? { queueServiceUri } : {}),
      ...(clientId ? { clientId } : {}),
    };
  }
  throw new ConfigError(
    base,
    `is not set (give a connection string, "UseDevelopmentStorage=true" for Azurite, ${base}__accountName for a managed identity, or ${SETTINGS.dedicatedStorage})`,
  );
}

/**
 * Reads and validates every setting. Throws {@link ConfigError} naming the first bad setting.
 *
 * @example
 * const config = loadConfig(process.env);
 * config.queueName; // 'dataverse'
 */
export function loadConfig(env: Env = process.env): BridgeConfig {
  const endpoint = read(env, SETTINGS.eventGridEndpoint);
  const key = read(env, SETTINGS.eventGridKey);
  if (key !== undefined && endpoint === undefined) {
    throw new ConfigError(SETTINGS.eventGridEndpoint, `is not set, but ${SETTINGS.eventGridKey} is`);
  }
  const topicName = read(env, SETTINGS.topicName);
  const subscriptionName = read(env, SETTINGS.subscriptionName);
  if ((topicName === undefined) !== (subscriptionName === undefined)) {
    const missing = topicName === undefined ? SETTINGS.topicName : SETTINGS.subscriptionName;
    throw new ConfigError(missing, `is not set (${SETTINGS.topicName} and ${SETTINGS.subscriptionName} go together)`);
  }
  const leaseSeconds = wholeNumber(env, SETTINGS.leaseSeconds, 300, 1, 3600, ' of seconds');
  const delivery: DeliverySettings = {
    unhealthyAfter: wholeNumber(env, SETTINGS.unhealthyAfter, 5, 1, 1000, ''),
    timeoutSeconds: wholeNumber(env, SETTINGS.deliveryTimeoutSeconds, 15, 1, 230, ' of seconds'),
  };
  const localMode = read(env, SETTINGS.environment)?.toLowerCase() === 'development';
  const dataverse = dataverseSettings(env, localMode);
  const auth = authSettings(env, localMode);
  const storage = storageSettings(env);
  const verify = verifySettings(env, dataverse !== undefined);
  if (verify.enabled && storage.kind === 'identity' && storage.queueServiceUri === undefined) {
    throw new ConfigError(
      `${SETTINGS.storage}__queueServiceUri`,
      `is not set: holding synchronous contexts needs the storage account's queue service (or set ${SETTINGS.verifySync}=false)`,
    );
  }
  return {
    storage,
    ...(endpoint === undefined
      ? {}
      : { eventGrid: { endpoint: url(SETTINGS.eventGridEndpoint, endpoint), ...(key ? { key } : {}) } }),
    queueName: required(env, SETTINGS.queueName),
    ...(topicName && subscriptionName ? { topic: { topicName, subscriptionName } } : {}),
    leaseSeconds,
    delivery,
    localMode,
    ...(dataverse ? { dataverse } : {}),
    reconcile: reconcileSettings(env, dataverse !== undefined),
    ...(auth ? { auth } : {}),
    dataverseAppOperations: flag(env, SETTINGS.dataverseAppOperations),
    verify,
    storageConnection:
      read(env, SETTINGS.dedicatedStorage) === undefined ? SETTINGS.storage : SETTINGS.dedicatedStorage,
  };
}

/** `BRIDGE_VERIFY_SYNC` (default true), `BRIDGE_VERIFY_DELAY_SECONDS` and `BRIDGE_VERIFY_WINDOW_SECONDS`. */
function verifySettings(env: Env, dataverse: boolean): VerifySettings {
  const text = read(env, SETTINGS.verifySync)?.toLowerCase() ?? 'true';
  if (text !== 'true' && text !== 'false') {
    throw new ConfigError(SETTINGS.verifySync, `must be true or false, got "${text}"`);
  }
  const delaySeconds = wholeNumber(env, SETTINGS.verifyDelaySeconds, 5, 1, 600, ' of seconds');
  const windowSeconds = wholeNumber(env, SETTINGS.verifyWindowSeconds, 300, 1, 86_400, ' of seconds');
  if (windowSeconds < delaySeconds) {
    throw new ConfigError(
      SETTINGS.verifyWindowSeconds,
      `must be at least ${SETTINGS.verifyDelaySeconds} (${delaySeconds}): the first check runs after that delay`,
    );
  }
  return { enabled: dataverse && text === 'true', delaySeconds, windowSeconds };
}

/** `BRIDGE_RECONCILE_TABLES` (comma-separated logical names) and `BRIDGE_RECONCILE_SCHEDULE`. */
function reconcileSettings(env: Env, dataverse: boolean): ReconcileSettings {
  const tables = (read(env, SETTINGS.reconcileTables) ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of tables) {
    if (!/^[a-z][a-z0-9_]{0,127}$/.test(name)) {
      throw new ConfigError(
        SETTINGS.reconcileTables,
        `must list tables by logical name (lower case, e.g. account,contact), got "${name}"`,
      );
    }
  }
  if (tables.length > 0 && !dataverse) {
    throw new ConfigError(
      SETTINGS.reconcileTables,
      `is set, but ${SETTINGS.dataverseUrl} is not: reconciliation reads Dataverse`,
    );
  }
  const schedule = read(env, SETTINGS.reconcileSchedule) ?? DEFAULT_RECONCILE_SCHEDULE;
  if (schedule.split(/\s+/).length !== 6) {
    throw new ConfigError(
      SETTINGS.reconcileSchedule,
      `must be an NCRONTAB expression of six fields, seconds first (e.g. "${DEFAULT_RECONCILE_SCHEDULE}"), got "${schedule}"`,
    );
  }
  return { tables: [...new Set(tables)], schedule };
}

/**
 * The Dataverse settings, or undefined when `DATAVERSE_URL` is unset. Exported for `dataverse-bridge whoami`, which
 * needs only these.
 */
export function dataverseSettings(env: Env, localMode: boolean): DataverseSettings | undefined {
  const text = read(env, SETTINGS.dataverseUrl);
  const credentialSettings = [
    SETTINGS.dataverseTenantId,
    SETTINGS.dataverseClientId,
    SETTINGS.dataverseCertificatePath,
    SETTINGS.dataverseCertificatePassword,
    SETTINGS.dataverseClientSecret,
  ];
  if (text === undefined) {
    const stray = credentialSettings.find((name) => read(env, name) !== undefined);
    if (stray)
      throw new ConfigError(
        SETTINGS.dataverseUrl,
        `is not set, but ${stray} is (set the environment URL, e.g. https://contoso.crm.dynamics.com)`,
      );
    return undefined;
  }
  const url = dataverseUrl(text, localMode);
  const timeoutSeconds = wholeNumber(env, SETTINGS.dataverseTimeoutSeconds, 30, 1, 300, ' of seconds');
  const retryBudgetSeconds = wholeNumber(env, SETTINGS.dataverseRetryBudgetSeconds, 60, 0, 600, ' of seconds');
  if (url.startsWith('http:')) return { url, auth: { kind: 'none' }, timeoutSeconds, retryBudgetSeconds };

  const tenantId = read(env, SETTINGS.dataverseTenantId);
  const clientId = read(env, SETTINGS.dataverseClientId);
  const certificatePath = read(env, SETTINGS.dataverseCertificatePath);
  const certificatePassword = read(env, SETTINGS.dataverseCertificatePassword);
  const clientSecret = read(env, SETTINGS.dataverseClientSecret);
  if (certificatePath && clientSecret) {
    throw new ConfigError(
      SETTINGS.dataverseClientSecret,
      `is set together with ${SETTINGS.dataverseCertificatePath}: keep one credential (the certificate is the stronger)`,
    );
  }
  if (certificatePassword && !certificatePath) {
    throw new ConfigError(
      SETTINGS.dataverseCertificatePath,
      `is not set, but ${SETTINGS.dataverseCertificatePassword} is`,
    );
  }
  let auth: DataverseAuth;
  if (certificatePath || clientSecret) {
    const needs = certificatePath ? SETTINGS.dataverseCertificatePath : SETTINGS.dataverseClientSecret;
    if (!tenantId)
      throw new ConfigError(SETTINGS.dataverseTenantId, `is not set (${needs} needs the app registration's tenant id)`);
    if (!clientId)
      throw new ConfigError(
        SETTINGS.dataverseClientId,
        `is not set (${needs} needs the app registration's application (client) id)`,
      );
    guid(SETTINGS.dataverseTenantId, tenantId);
    guid(SETTINGS.dataverseClientId, clientId);
    auth = certificatePath
      ? {
          kind: 'certificate',
          tenantId,
          clientId,
          certificatePath,
          ...(certificatePassword ? { certificatePassword } : {}),
        }
      : { kind: 'secret', tenantId, clientId, clientSecret: clientSecret as string };
  } else {
    if (tenantId) {
      throw new ConfigError(
        SETTINGS.dataverseTenantId,
        `is only used with ${SETTINGS.dataverseCertificatePath} or ${SETTINGS.dataverseClientSecret}; remove it to use the managed identity`,
      );
    }
    if (clientId) guid(SETTINGS.dataverseClientId, clientId);
    auth = { kind: 'identity', ...(clientId ? { clientId } : {}), localMode };
  }
  return { url, auth, timeoutSeconds, retryBudgetSeconds };
}

/** The bearer-token settings, or undefined when `BRIDGE_AUTH_TENANT_ID` is unset (and none of the others is set). */
function authSettings(env: Env, localMode: boolean): AuthSettings | undefined {
  const tenantId = read(env, SETTINGS.authTenantId);
  const audience = read(env, SETTINGS.authAudience);
  const issuer = read(env, SETTINGS.authIssuer);
  const metadataUrl = read(env, SETTINGS.authMetadataUrl);
  if (tenantId === undefined) {
    const stray = [
      [SETTINGS.authAudience, audience],
      [SETTINGS.authIssuer, issuer],
      [SETTINGS.authMetadataUrl, metadataUrl],
    ].find(([, value]) => value !== undefined)?.[0];
    if (stray) throw new ConfigError(SETTINGS.authTenantId, `is not set, but ${stray} is (give the tenant id, a GUID)`);
    return undefined;
  }
  guid(SETTINGS.authTenantId, tenantId);
  if (audience === undefined) {
    throw new ConfigError(
      SETTINGS.authAudience,
      `is not set (${SETTINGS.authTenantId} needs the connector's app ID URI, e.g. api://<client id>, and/or its client id, separated by commas)`,
    );
  }
  const audiences = audience
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const issuers = issuer
    ? [authUrl(SETTINGS.authIssuer, issuer, localMode)]
    : [`https://login.microsoftonline.com/${tenantId}/v2.0`, `https://sts.windows.net/${tenantId}/`];
  return {
    tenantId: tenantId.toLowerCase(),
    audiences,
    issuers,
    metadataUrl: metadataUrl
      ? authUrl(SETTINGS.authMetadataUrl, metadataUrl, localMode)
      : `https://login.microsoftonline.com/${tenantId}/v2.0/.well-known/openid-configuration`,
  };
}

/** https; http only for localhost/127.0.0.1 in Development (the local token issuer of tests). */
function authUrl(name: string, text: string, localMode: boolean): string {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new ConfigError(name, 'must be an https URL, e.g. https://login.microsoftonline.com/<tenant>/v2.0');
  }
  const localHost = parsed.hostname === 'localhost' || parsed.hostname === '127.0.0.1';
  if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && localHost && localMode)) return text;
  throw new ConfigError(
    name,
    `must use https (http://localhost or http://127.0.0.1 only when ${SETTINGS.environment}=Development)`,
  );
}

function flag(env: Env, name: string): boolean {
  const text = read(env, name)?.toLowerCase() ?? 'false';
  if (text !== 'true' && text !== 'false') throw new ConfigError(name, `must be true or false, got "${text}"`);
  return text === 'true';
}

/** https, an origin only; http only for localhost/127.0.0.1 with a port in Development (local test doubles). */
function dataverseUrl(text: string, localMode: boolean): string {
  const name = SETTINGS.dataverseUrl;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new ConfigError(name, 'must be the environment URL, such as https://contoso.crm.dynamics.com');
  }
  if (
    parsed.username ||
    parsed.password ||
    parsed.search ||
    parsed.hash ||
    (parsed.pathname !== '/' && parsed.pathname !== '')
  ) {
    throw new ConfigError(
      name,
      `must be the environment URL only, such as https://contoso.crm.dynamics.com (no path such as /api/data/v9.2, no query), got "${parsed.origin}${parsed.pathname}"`,
    );
  }
  if (parsed.protocol === 'https:') return parsed.origin;
  const localHost = parsed.hostname === 'localhost' || parsed.hostname === '127.0.0.1';
  if (parsed.protocol === 'http:' && localHost && parsed.port !== '' && localMode) return parsed.origin;
  if (parsed.protocol === 'http:' && localHost) {
    throw new ConfigError(
      name,
      `must use https: http://localhost:<port> or http://127.0.0.1:<port> (a local test double, with no credential) is accepted only when ${SETTINGS.environment}=Development`,
    );
  }
  throw new ConfigError(name, 'must use https, such as https://contoso.crm.dynamics.com');
}

function guid(name: string, value: string): void {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw new ConfigError(name, `must be a GUID such as 00000000-0000-0000-0000-000000000000, got "${value}"`);
  }
}

function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number, unit: string): number {
  const text = read(env, name) ?? String(fallback);
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `must be a whole number${unit} from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

let cached: BridgeConfig | undefined;

/**
 * The app's configuration, read and validated once per process. Function files call it while registering, so a bad
 * setting fails the app at start-up with a message that names it.
 */
export function getConfig(): BridgeConfig {
  cached ??= loadConfig(process.env);
  return cached;
}
