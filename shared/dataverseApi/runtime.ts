import { type DataverseSettings, getConfig } from '../config.js';
import { lazy } from '../lazy.js';
import type { DataverseApi } from './types.js';

/** Builds the client for the settings: its credential, transport and adapter. Loads `@azure/identity` only when needed. */
export async function openDataverse(
  settings: DataverseSettings,
  options: { log?: (message: string) => void } = {},
): Promise<DataverseApi> {
  const [{ createCredential }, { DataverseTransport }, { WebApiClient }] = await Promise.all([
    import('./credential.js'),
    import('./transport.js'),
    import('./webApiClient.js'),
  ]);
  const credential = await createCredential(settings.auth);
  const transport = new DataverseTransport({
    url: settings.url,
    ...(credential ? { credential } : {}),
    timeoutMs: settings.timeoutSeconds * 1000,
    retryBudgetMs: settings.retryBudgetSeconds * 1000,
    ...(options.log ? { log: options.log } : {}),
  });
  return new WebApiClient(transport);
}

const client = lazy(async () => {
  const settings = getConfig().dataverse;
  if (!settings) throw new Error('DATAVERSE_URL is not set, so Dataverse features are off.');
  // Retries go to the host's log (Application Insights in Azure); the lines hold no header or token.
  return openDataverse(settings, { log: (line) => console.warn(line) });
});

/** Whether Dataverse is configured (`DATAVERSE_URL` set). */
export function dataverseConfigured(): boolean {
  return getConfig().dataverse !== undefined;
}

/**
 * The app's Dataverse client, built on first use and shared by every invocation of the process (one token cache, one
 * metadata cache). Throws when `DATAVERSE_URL` is unset: check {@link dataverseConfigured} first.
 */
export function getDataverseApi(): Promise<DataverseApi> {
  return client.get();
}

/** Replaces the client (tests wire one against the local double), or with undefined forgets it. */
export function setDataverseApi(value: DataverseApi | undefined): void {
  client.set(value);
}
