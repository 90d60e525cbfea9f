import type { Command } from 'commander';
import { ConfigError, SETTINGS } from '../../shared/config.js';
import { isDataverseError } from '../../shared/dataverseApi/errors.js';
import { type AzureKeyOptions, keyFromAzure } from './azureKeys.js';
import { commandSettings, type OpenDataverse, openDataverseClient } from './dataverseCommand.js';
import type { Writable } from './output.js';
import { RegistrationFileError, type RegistrationSource, readRegistrationFile } from './registrationFile.js';
import { type Action, applyPlan, type Plan, planRegistration, type RegistrationSecrets } from './registrationPlan.js';

/** Options of `dataverse-bridge register`. */
export interface RegisterOptions {
  config: string;
  dryRun?: boolean;
  prune?: boolean;
  /** Send the key again (after it was regenerated in Azure), even when nothing else changed. */
  rotateKey?: boolean;
  /** A settings file other than `./local.settings.json`. */
  settings?: string;
}

/** Exit codes: 0 registered (or planned, with --dry-run); 1 Dataverse failed part way; 2 the file or a setting is wrong. */
const EXIT_FAILED = 1;
const EXIT_INPUT = 2;

/**
 * `dataverse-bridge register --config <file>`: plans the service endpoint, steps and images the file declares against
 * what Dataverse holds, prints the plan, then applies it (not with `dryRun`). Nothing is written unless the whole file
 * checks out. Secrets come from the settings and are never printed. Returns the exit code.
 */
export async function runRegister(
  options: RegisterOptions,
  out: Writable,
  err: Writable,
  env: NodeJS.ProcessEnv = process.env,
  open: OpenDataverse = openDataverseClient,
  azure: AzureKeyOptions = {},
): Promise<number> {
  let source: RegistrationSource;
  try {
    source = readRegistrationFile(options.config);
  } catch (error) {
    return reportFileErrors(error, err);
  }
  let secrets: RegistrationSecrets;
  let settings: ReturnType<typeof commandSettings>;
  try {
    settings = commandSettings(options.settings, env);
    secrets = {
      ...(env[SETTINGS.dataverseSasKey]?.trim() ? { sasKey: env[SETTINGS.dataverseSasKey]?.trim() } : {}),
      ...(env[SETTINGS.dataverseWebhookKey]?.trim() ? { webhookKey: env[SETTINGS.dataverseWebhookKey]?.trim() } : {}),
      fromAzure: () => keyFromAzure(source.registration.endpoint, env, azure),
    };
  } catch (error) {
    err.write(`error: ${(error as Error).message}\n`);
    return EXIT_INPUT;
  }
  let plan: Plan;
  try {
    const api = await open(settings);
    plan = await planRegistration(api, source, secrets, {
      prune: options.prune === true,
      rotateKey: options.rotateKey === true,
    });
  } catch (error) {
    if (Array.isArray(error) || error instanceof RegistrationFileError) return reportFileErrors(error, err);
    return reportFailure(error, err, 'nothing was written');
  }
  out.write(formatPlan(plan, settings.url));
  const writes = plan.actions.filter((a) => a.apply).length;
  if (options.dryRun) {
    out.write('Dry run: nothing was written.\n');
    return 0;
  }
  if (writes === 0) {
    out.write('Nothing to change.\n');
    return 0;
  }
  let done = 0;
  try {
    done = await applyPlan(plan);
  } catch (error) {
    return reportFailure(error, err, 'the changes before it were made; run register again to finish');
  }
  out.write(`Applied ${done} change${done === 1 ? '' : 's'}.\n`);
  return 0;
}

/** The plan as the user reads it: one line per endpoint, step and image, then the totals. */
export function formatPlan(plan: Plan, url: string): string {
  const lines = [`Plan for ${url}:`];
  for (const action of plan.actions) lines.push(formatAction(action));
  const count = (kind: Action['kind']) => plan.actions.filter((a) => a.kind === kind).length;
  lines.push(
    `${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete, ${count('unchanged')} unchanged.`,
  );
  return `${lines.join('\n')}\n`;
}

function formatAction(action: Action): string {
  const head = `  ${action.kind.padEnd(9)} ${action.label}`;
  if (action.kind === 'keep') return `${head}: ${action.note}`;
  if (!action.changes?.length) return head;
  const fields = action.changes.map((c) => `${c.field} ${show(c.from)} -> ${show(c.to)}`).join(', ');
  return `${head}: ${fields}`;
}

function show(value: unknown): string {
  return value === null || value === undefined ? '(none)' : JSON.stringify(value);
}

function reportFileErrors(error: unknown, err: Writable): number {
  const errors = Array.isArray(error) ? error : [error];
  for (const e of errors) {
    if (!(e instanceof RegistrationFileError)) throw e;
    err.write(`error: ${e.message}\n`);
  }
  err.write(`${errors.length} error${errors.length === 1 ? '' : 's'}; nothing was written.\n`);
  return EXIT_INPUT;
}

function reportFailure(error: unknown, err: Writable, consequence: string): number {
  if (error instanceof ConfigError) {
    err.write(`error: ${error.message}\n`);
    return EXIT_INPUT;
  }
  if (!isDataverseError(error)) throw error;
  err.write(
    `error: ${error.message}\n${error.transient ? 'Dataverse is busy or unreachable: try again later' : 'Dataverse refused'}; ${consequence}.\n`,
  );
  return EXIT_FAILED;
}

/** Adds `register` to the CLI. */
export function addRegisterCommand(program: Command): void {
  program
    .command('register')
    .description(
      'Create or update, in Dataverse, the service endpoint and the steps (with their images) that a registration file ' +
        'declares: prints the plan, then applies it.',
    )
    .requiredOption(
      '--config <file>',
      'the registration file (docs/registration.schema.json; e.g. samples/registration.json)',
    )
    .option('--dry-run', 'print the plan and stop: nothing is written')
    .option(
      '--prune',
      'also delete the steps on the endpoint that the file no longer lists (only steps register created)',
    )
    .option(
      '--rotate-key',
      "send the endpoint's key again (after regenerating it in Azure), even if nothing else changed",
    )
    .option('--settings <file>', 'a settings file in the local.settings.json format (default: ./local.settings.json)')
    .addHelpText(
      'after',
      `
Settings: DATAVERSE_URL and the credential as for "whoami" (your own "az login" by default), and the endpoint's key:
DATAVERSE_SAS_KEY (queue/topic: the key of the Send rule named by sasKeyName) or DATAVERSE_WEBHOOK_KEY (webhook: the
function key). Without DATAVERSE_SAS_KEY, when the azd environment names the namespace (AZURE_SUBSCRIPTION_ID,
AZURE_RESOURCE_GROUP, SERVICEBUS_NAMESPACE equal to the file's namespace), the key is read from Azure with your own
sign-in (the rule's listKeys). The key is needed only to create the endpoint or change its address; it is never
printed.

Every check runs before the first write: the file against its schema, then each step's table, columns and message
against Dataverse (an error names the file's line). A second run with the same file changes nothing.

Exit codes: 0 registered (or planned, with --dry-run); 1 Dataverse failed part way (run again to finish); 2 the file
or a setting is wrong: nothing was written.

Examples:
  dataverse-bridge register --config samples/registration.json --dry-run
  DATAVERSE_SAS_KEY=... dataverse-bridge register --config registration.json
  dataverse-bridge register --config registration.json --prune`,
    )
    .action(async (options: RegisterOptions) => {
      process.exitCode = await runRegister(options, process.stdout, process.stderr);
    });
}
