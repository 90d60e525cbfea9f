import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildDefinition, PLACEHOLDER_HOST, serializeDefinition } from '../../shared/connector/openapi.js';
import { operations } from '../../shared/connector/operations.js';
import { lintDefinition } from '../connector/lint.js';
import { lintApiProperties } from '../connector/lintProperties.js';
import { type MultiAuthOptions, PROPERTIES_FILE, runMultiAuth, wantsMultiAuth } from './connectorMultiAuth.js';
import type { Writable } from './output.js';

/** Options of `dataverse-bridge connector`. */
export interface ConnectorOptions extends MultiAuthOptions {
  /** The folder of `apiDefinition.swagger.json` (default `connector`). */
  out?: string;
  host?: string;
  /** Compare instead of writing. */
  check?: boolean;
}

/** The file name paconn and the maker portal expect for the definition. */
export const DEFINITION_FILE = 'apiDefinition.swagger.json';
/** How many differences `--check` lists before summarizing the rest. */
const MAX_LISTED = 20;

/**
 * `dataverse-bridge connector`: writes the generated connector definition, or with `check` compares the committed
 * one with it, and lints the result against the certification rules. Returns the exit code: 0 when the file is
 * (now) the generated one and has no lint problem, 1 otherwise (each difference and problem is printed).
 *
 * @example
 * process.exitCode = await runConnector({ check: true }, process.stdout, process.stderr);
 */
export async function runConnector(options: ConnectorOptions, out: Writable, err: Writable): Promise<number> {
  if (wantsMultiAuth(options)) return runMultiAuth(options, out, err);
  const file = join(options.out ?? 'connector', DEFINITION_FILE);
  const generated = buildDefinition(options.host === undefined ? {} : { host: options.host });
  const text = serializeDefinition(generated);
  let linted: { definition: unknown; text: string } = { definition: generated, text };
  let failed = false;

  if (options.check) {
    let committed: string | undefined;
    try {
      committed = await readFile(file, 'utf8');
    } catch (error) {
      err.write(`error: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
      err.write('Run "dataverse-bridge connector" to write it.\n');
      return 1;
    }
    if (committed === text) {
      out.write(`${file} is up to date (${operations.length} operations).\n`);
    } else {
      failed = true;
      err.write(`${file} differs from the definition generated from shared/connector/operations.ts:\n`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(committed);
        linted = { definition: parsed, text: committed };
      } catch {
        err.write('  the file is not valid JSON\n');
      }
      if (parsed !== undefined) {
        const found = differences(parsed, generated, '');
        for (const line of found.slice(0, MAX_LISTED)) err.write(`  ${line}\n`);
        if (found.length > MAX_LISTED) err.write(`  … and ${found.length - MAX_LISTED} more\n`);
        if (found.length === 0) err.write('  the content is the same; the formatting or key order differs\n');
      }
      err.write('Run "dataverse-bridge connector" to regenerate it (and commit the result).\n');
    }
  } else {
    await mkdir(options.out ?? 'connector', { recursive: true });
    await writeFile(file, text);
    out.write(
      `wrote ${file} (${Buffer.byteLength(text)} bytes, ${operations.length} operations, host ${generated.host})\n`,
    );
  }

  const problems = lintDefinition(linted.definition, linted.text);
  for (const problem of problems)
    err.write(`lint: ${problem.path || '(root)'}: ${problem.message} [${problem.rule}]\n`);
  // With --check, the connection parameters beside the definition are judged too.
  const count = problems.length + (options.check ? await lintPropertiesBeside(options.out ?? 'connector', err) : 0);
  if (count > 0) {
    err.write(`${count} lint problem${count === 1 ? '' : 's'}\n`);
    failed = true;
  }
  return failed ? 1 : 0;
}

/**
 * Registers the `connector` subcommand on the CLI program (as `program.command()`, so it inherits the program's
 * error handling).
 */
export function addConnectorCommand(program: Command): void {
  program
    .command('connector')
    .description(
      'Write the Power Platform custom connector definition (connector/apiDefinition.swagger.json) generated from ' +
        'the operation declarations, or check that the committed one matches; lint it against the certification rules.',
    )
    .option('--out <dir>', 'the folder to write apiDefinition.swagger.json in (or to check) (default: "connector")')
    .option('--host <host>', `the Function App host name to put in the definition (default ${PLACEHOLDER_HOST})`)
    .option('--check', 'do not write: exit 1 and list the differences when the committed file is not the generated one')
    .option(
      '--entra-client-id <guid>',
      'write a connector with two connection types, Function key and Microsoft Entra ID: the Application (client) ' +
        "id of the connector's app registration (needs --out and the other two --entra-* options)",
    )
    .option(
      '--entra-resource-uri <uri>',
      "the API app's Application ID URI (api://… or https://…), the audience of the tokens (BRIDGE_AUTH_AUDIENCE)",
    )
    .option('--entra-tenant-id <guid>', 'the Directory (tenant) id of both app registrations (BRIDGE_AUTH_TENANT_ID)')
    .option('--force', 'with --entra-*: replace apiDefinition.swagger.json and apiProperties.json already in --out')
    .addHelpText(
      'after',
      `
Exit codes: 0 the file is the generated definition and passes the lint; 1 it differs (--check) or has lint problems
(each is printed); 2 a usage error.

Examples:
  dataverse-bridge connector                                  # regenerate connector/apiDefinition.swagger.json
  dataverse-bridge connector --check                          # in CI: fail when the committed file is stale
  dataverse-bridge connector --out /tmp/c --host contoso-bridge.azurewebsites.net   # a copy for one deployment
  dataverse-bridge connector --out ./my-connector --host contoso-bridge.azurewebsites.net \\
    --entra-client-id <connector app id> --entra-resource-uri api://<API app id> --entra-tenant-id <tenant id>
                                                              # Function key + Microsoft Entra ID connections

Then import connector/ with "paconn create --api-def apiDefinition.swagger.json --api-prop apiProperties.json"
or the maker portal's "Import an OpenAPI file" (see connector/README.md). The --entra-* files (apiDefinition.swagger.json
and apiProperties.json with connectionParameterSets) import only with "pac connector create --api-definition-file …
--api-properties-file …" or paconn: the portal's wizard cannot create a connector with two connection types.`,
    )
    .action(async (options: ConnectorOptions) => {
      process.exitCode = await runConnector(options, process.stdout, process.stderr);
    });
}

/**
 * Lints the `apiProperties.json` next to the checked definition, when there is one (a `--out` copy may hold only the
 * definition). Prints each problem and returns how many there are.
 */
async function lintPropertiesBeside(dir: string, err: Writable): Promise<number> {
  const file = join(dir, PROPERTIES_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return 0;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    err.write(`lint: ${file}: the file is not valid JSON [properties-root]\n`);
    return 1;
  }
  const problems = lintApiProperties(parsed);
  for (const problem of problems) err.write(`lint: ${file}: ${problem.path}: ${problem.message} [${problem.rule}]\n`);
  return problems.length;
}

/** Where two JSON values differ, as `path: what` lines (object key order is not compared). */
function differences(committed: unknown, generated: unknown, path: string): string[] {
  if (isObject(committed) && isObject(generated)) {
    const lines: string[] = [];
    for (const key of Object.keys(generated)) {
      const at = childPath(path, key);
      if (!(key in committed)) lines.push(`${at}: missing from the file`);
      else lines.push(...differences(committed[key], generated[key], at));
    }
    for (const key of Object.keys(committed))
      if (!(key in generated)) lines.push(`${childPath(path, key)}: in the file but not generated`);
    return lines;
  }
  if (Array.isArray(committed) && Array.isArray(generated)) {
    const lines: string[] = [];
    const length = Math.max(committed.length, generated.length);
    for (let index = 0; index < length; index++) {
      const at = `${path}[${index}]`;
      if (index >= committed.length) lines.push(`${at}: missing from the file`);
      else if (index >= generated.length) lines.push(`${at}: in the file but not generated`);
      else lines.push(...differences(committed[index], generated[index], at));
    }
    return lines;
  }
  if (JSON.stringify(committed) === JSON.stringify(generated)) return [];
  return [`${path || '(root)'}: the file has ${preview(committed)}, generated is ${preview(generated)}`];
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${path}${path ? '.' : ''}${key}` : `${path}[${JSON.stringify(key)}]`;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
