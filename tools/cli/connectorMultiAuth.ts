import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDefinition, serializeDefinition } from '../../shared/connector/openapi.js';
import { operations } from '../../shared/connector/operations.js';
import {
  buildMultiAuthProperties,
  EntraOptionError,
  toMultiAuthDefinition,
  validateEntraOptions,
} from '../connector/apiProperties.js';
import { lintDefinition } from '../connector/lint.js';
import { lintApiProperties } from '../connector/lintProperties.js';
import type { Writable } from './output.js';

/** The options of `dataverse-bridge connector` that ask for the Microsoft Entra ID connection type. */
export interface MultiAuthOptions {
  out?: string;
  host?: string;
  check?: boolean;
  entraClientId?: string;
  entraResourceUri?: string;
  entraTenantId?: string;
  /** Overwrite files already in `out`. */
  force?: boolean;
}

/** The file name paconn and pac expect for the connection parameters and policies. */
export const PROPERTIES_FILE = 'apiProperties.json';
const DEFINITION_FILE = 'apiDefinition.swagger.json';
const EXIT_USAGE = 2;

/** Whether the options ask for the multi-auth files (any `--entra-*` option given). */
export function wantsMultiAuth(options: MultiAuthOptions): boolean {
  return [options.entraClientId, options.entraResourceUri, options.entraTenantId].some((value) => value !== undefined);
}

/**
 * Writes a connector with two connection types, "Function key" and "Microsoft Entra ID", into `options.out`: the
 * definition without a security definition and an `apiProperties.json` with `connectionParameterSets`. Only
 * `pac connector create`/`paconn` import these (the portal's wizard cannot), so the committed `connector/` stays
 * single-auth and this writes only where the user says, never over an existing file without `force`.
 * Returns the exit code: 0 written and lint-clean, 1 lint problems, 2 a usage error (each is printed).
 */
export async function runMultiAuth(options: MultiAuthOptions, out: Writable, err: Writable): Promise<number> {
  const usage = (message: string) => {
    err.write(`error: ${message}\n`);
    return EXIT_USAGE;
  };
  const missing = (
    [
      ['--entra-client-id', options.entraClientId],
      ['--entra-resource-uri', options.entraResourceUri],
      ['--entra-tenant-id', options.entraTenantId],
    ] as const
  )
    .filter(([, value]) => value === undefined)
    .map(([name]) => name);
  if (missing.length > 0)
    return usage(`the Microsoft Entra ID connection also needs ${missing.join(' and ')} (the three go together).`);
  if (options.check)
    return usage('--check compares the committed single-auth definition; leave out the --entra-* options with it.');
  if (options.out === undefined)
    return usage(
      'give --out <dir> for the Microsoft Entra ID files: connector/ keeps the single-auth files the import wizard reads.',
    );
  let entra: ReturnType<typeof validateEntraOptions>;
  try {
    entra = validateEntraOptions({
      clientId: options.entraClientId as string,
      resourceUri: options.entraResourceUri as string,
      tenantId: options.entraTenantId as string,
    });
  } catch (error) {
    if (error instanceof EntraOptionError) return usage(`${error.option}: ${error.message}`);
    throw error;
  }

  const definitionFile = join(options.out, DEFINITION_FILE);
  const propertiesFile = join(options.out, PROPERTIES_FILE);
  if (!options.force) {
    const existing = [];
    for (const file of [definitionFile, propertiesFile]) if (await exists(file)) existing.push(file);
    if (existing.length > 0)
      return usage(
        `${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}: choose another --out, or add --force to replace.`,
      );
  }

  const definition = toMultiAuthDefinition(buildDefinition(options.host === undefined ? {} : { host: options.host }));
  const definitionText = serializeDefinition(definition);
  const properties = buildMultiAuthProperties(entra);
  const propertiesText = serializeDefinition(properties);
  await mkdir(options.out, { recursive: true });
  await writeFile(definitionFile, definitionText);
  await writeFile(propertiesFile, propertiesText);
  out.write(
    `wrote ${definitionFile} (${operations.length} operations, host ${definition.host}) and ${propertiesFile} ` +
      '(connection types: Function key, Microsoft Entra ID)\n' +
      `Import with: pac connector create --api-definition-file ${definitionFile} --api-properties-file ${propertiesFile}\n`,
  );

  const problems = [
    ...lintDefinition(definition, definitionText).map((p) => ({ file: definitionFile, ...p })),
    ...lintApiProperties(properties).map((p) => ({ file: propertiesFile, ...p })),
  ];
  for (const problem of problems)
    err.write(`lint: ${problem.file}: ${problem.path || '(root)'}: ${problem.message} [${problem.rule}]\n`);
  if (problems.length > 0) err.write(`${problems.length} lint problem${problems.length === 1 ? '' : 's'}\n`);
  return problems.length > 0 ? 1 : 0;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
