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
  | { kind: 'identity'; tableServiceUri: string; blobServiceUri: string; clientId?: string; prefix: string };

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
}

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
  if (tableServiceUri && blobServiceUri) {
    const clientId = read(env, `${base}__clientId`);
    return { kind: 'identity', tableServiceUri, blobServiceUri, prefix, ...(clientId ? { clientId } : {}) };
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
  return {
    storage: storageSettings(env),
    ...(endpoint === undefined
      ? {}
      : { eventGrid: { endpoint: url(SETTINGS.eventGridEndpoint, endpoint), ...(key ? { key } : {}) } }),
    queueName: required(env, SETTINGS.queueName),
    ...(topicName && subscriptionName ? { topic: { topicName, subscriptionName } } : {}),
    leaseSeconds,
    delivery,
    localMode: read(env, SETTINGS.environment)?.toLowerCase() === 'development',
  };
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
