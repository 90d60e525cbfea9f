import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type DataverseSettings, dataverseSettings, SETTINGS } from '../../shared/config.js';
import type { DataverseApi } from '../../shared/dataverseApi/types.js';
import { applySettings, readLocalSettings } from '../localhost/settings.js';

/** How a command opens Dataverse; tests give their own. */
export type OpenDataverse = (settings: DataverseSettings) => Promise<DataverseApi>;

/**
 * The Dataverse settings the way `npm start` reads them (the environment first, then `local.settings.json` in the
 * current folder, or `settingsFile`), applied to `env`. Throws an `Error` whose message says what to set.
 */
export function commandSettings(settingsFile: string | undefined, env: NodeJS.ProcessEnv): DataverseSettings {
  const file = settingsFile ?? join(process.cwd(), 'local.settings.json');
  if (settingsFile !== undefined || existsSync(file)) applySettings(readLocalSettings(process.cwd(), file).values, env);
  else env.AZURE_FUNCTIONS_ENVIRONMENT ??= 'Development';
  const settings = dataverseSettings(env, env[SETTINGS.environment]?.trim().toLowerCase() === 'development');
  if (!settings) {
    throw new Error(
      `${SETTINGS.dataverseUrl} is not set. Set it to the environment URL (e.g. https://contoso.crm.dynamics.com) in local.settings.json (Values) or the environment.`,
    );
  }
  return settings;
}

/** The app's own client for these settings. */
export async function openDataverseClient(settings: DataverseSettings): Promise<DataverseApi> {
  const { openDataverse } = await import('../../shared/dataverseApi/open.js');
  return openDataverse(settings, { log: (line) => process.stderr.write(`${line}\n`) });
}
