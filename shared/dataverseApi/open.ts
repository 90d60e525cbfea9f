import type { DataverseSettings } from '../config.js';
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
