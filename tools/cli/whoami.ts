import type { Command } from 'commander';
import { ConfigError, type DataverseSettings, SETTINGS } from '../../shared/config.js';
import { isDataverseError } from '../../shared/dataverseApi/errors.js';
import { commandSettings, type OpenDataverse, openDataverseClient } from './dataverseCommand.js';
import type { Writable } from './output.js';

/** Options of `dataverse-bridge whoami`. */
export interface WhoAmIOptions {
  /** A settings file other than `./local.settings.json`. */
  settings?: string;
  json?: boolean;
}

/** Exit codes: 0 it works; 1 Dataverse or the credential said no (the message says what to fix); 2 a bad setting. */
const EXIT_FAILED = 1;
const EXIT_SETTINGS = 2;

/**
 * `dataverse-bridge whoami`: reads the settings the way `npm start` does (the environment first, then
 * `local.settings.json` in the current folder), calls `WhoAmI`, and prints the environment URL, the organization id and
 * the id of the application user the bridge acts as. Returns the exit code.
 */
export async function runWhoAmI(
  options: WhoAmIOptions,
  out: Writable,
  err: Writable,
  env: NodeJS.ProcessEnv = process.env,
  open?: OpenDataverse,
): Promise<number> {
  let settings: DataverseSettings;
  try {
    settings = commandSettings(options.settings, env);
  } catch (error) {
    err.write(`error: ${(error as Error).message}\n`);
    return EXIT_SETTINGS;
  }
  // A command-line check should answer quickly rather than wait out long throttling.
  const quick = { ...settings, retryBudgetSeconds: Math.min(settings.retryBudgetSeconds, 15) };
  try {
    const api = await (open ?? openDataverseClient)(quick);
    const me = await api.whoAmI();
    if (options.json) {
      out.write(
        `${JSON.stringify({ url: settings.url, organizationId: me.organizationId, userId: me.userId, businessUnitId: me.businessUnitId, credential: credentialName(settings) })}\n`,
      );
    } else {
      out.write(
        [
          `Dataverse environment  ${settings.url}`,
          `Organization id        ${me.organizationId}`,
          `Application user id    ${me.userId}`,
          `Business unit id       ${me.businessUnitId}`,
          `Credential             ${credentialName(settings)}`,
          '',
        ].join('\n'),
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      err.write(`error: ${error.message}\n`);
      return EXIT_SETTINGS;
    }
    if (!isDataverseError(error)) throw error;
    err.write(`error: ${error.message}\n${advice(error, settings)}`);
    return EXIT_FAILED;
  }
}

function credentialName(settings: DataverseSettings): string {
  const auth = settings.auth;
  switch (auth.kind) {
    case 'none':
      return 'none (local mode: http://localhost in Development)';
    case 'certificate':
      return `certificate ${auth.certificatePath} of app ${auth.clientId} (tenant ${auth.tenantId})`;
    case 'secret':
      return `client secret of app ${auth.clientId} (tenant ${auth.tenantId})`;
    default:
      return auth.localMode
        ? `your own sign-in (Azure CLI and the like)${auth.clientId ? `, or the managed identity ${auth.clientId}` : ''}`
        : `managed identity${auth.clientId ? ` ${auth.clientId}` : ' (system-assigned)'}`;
  }
}

/** One line saying what to fix, by the kind of failure. */
function advice(error: { code: string; status?: number; dataverseCode?: string }, settings: DataverseSettings): string {
  const auth = settings.auth;
  const appId =
    auth.kind === 'certificate' || auth.kind === 'secret'
      ? `application id ${auth.clientId}`
      : "the managed identity's application id (azd output DATAVERSE_APPLICATION_ID)";
  let fix: string;
  if (error.status === 403 && error.dataverseCode === '0x80072560') {
    fix = `The application user is missing: in the Power Platform admin center, add an application user for ${appId} to this environment with the bridge's security role (docs/dataverse.md, "Application user").`;
  } else if (error.status === 403) {
    fix = `The application user lacks a privilege: give it the bridge's security role (docs/dataverse.md, "Security role").`;
  } else if (error.status === 401) {
    fix = `Dataverse did not accept the token: check ${SETTINGS.dataverseUrl} and that the credential belongs to the environment's tenant.`;
  } else if (error.status === 404 || error.code === 'DataverseRedirected') {
    fix = `${settings.url} does not look like a Dataverse environment: check ${SETTINGS.dataverseUrl} (copy it from the Power Platform admin center, Environments, Environment URL).`;
  } else if (error.code === 'DataverseUnreachable' || error.code === 'DataverseTimeout') {
    fix = `Check ${SETTINGS.dataverseUrl} and your network.`;
  } else if (error.code.startsWith('DataverseCredential') || error.code === 'DataverseCertificateUnreadable') {
    fix = 'Fix the credential setting named above.';
  } else {
    fix = 'Try again later if the error is transient.';
  }
  return `fix: ${fix}\n`;
}

/** Adds `whoami` to the CLI. */
export function addWhoAmICommand(program: Command): void {
  program
    .command('whoami')
    .description(
      'Check the Dataverse connection with the settings npm start uses: print the environment URL, the organization ' +
        'id and the application user the bridge acts as.',
    )
    .option('--settings <file>', 'a settings file in the local.settings.json format (default: ./local.settings.json)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Settings are read from the environment first, then local.settings.json (Values): DATAVERSE_URL and the credential
(DATAVERSE_CERTIFICATE_PATH or DATAVERSE_CLIENT_SECRET with DATAVERSE_TENANT_ID and DATAVERSE_CLIENT_ID; without them
your own Azure sign-in, e.g. "az login"). http://localhost:<port> is accepted in Development, with no credential.

Exit codes: 0 Dataverse answered; 1 Dataverse or the credential refused (the message says what to fix); 2 a setting is
missing or malformed.

Examples:
  dataverse-bridge whoami
  DATAVERSE_URL=https://contoso.crm.dynamics.com dataverse-bridge whoami --json`,
    )
    .action(async (options: WhoAmIOptions) => {
      process.exitCode = await runWhoAmI(options, process.stdout, process.stderr);
    });
}
