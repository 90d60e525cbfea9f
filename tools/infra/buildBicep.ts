/**
 * `npm run infra:build`: compiles every Bicep file under infra/ to ARM JSON in .infra-build/ and lints it, with the
 * Bicep CLI tools/infra/bicep.ts finds (restoring it from NuGet when only the .NET SDK is there). Exits non-zero on
 * any error or warning, or when there is no Bicep CLI at all.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BICEP_NUGET_VERSION,
  BicepToolError,
  buildInfra,
  findBicep,
  formatDiagnostic,
  INFRA_BUILD_DIR,
} from './bicep.js';

const HELP = `Usage: npm run infra:build [-- --no-restore]

Compiles infra/main.bicep, every module and infra/eventSubscriptions.bicep to ARM JSON in ${INFRA_BUILD_DIR}/
(bicep build), lints each (bicep lint, rules in infra/bicepconfig.json), and fails on any error or warning.

The Bicep CLI is, in this order: BICEP_PATH; bicep on the PATH; ~/.azure/bin/bicep (az bicep install);
~/.azd/bin/bicep* (azd); or Azure.Bicep.CommandLine ${BICEP_NUGET_VERSION} restored from NuGet with dotnet into
.tools/ (once; reused after).

Options:
  --no-restore  do not restore from NuGet; fail if no Bicep CLI is installed
  -h, --help    show this help
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { 'no-restore': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const lookup = await findBicep({
    root,
    restore: values['no-restore'] !== true,
    log: (line) => console.log(line),
  });
  if (!lookup.found) {
    console.error(`infra:build: ${lookup.reason}.`);
    console.error(
      'Install the .NET SDK (then run this again), or the Azure CLI (az bicep install), or set BICEP_PATH.',
    );
    return 1;
  }
  const { cli } = lookup;
  console.log(`Bicep CLI ${cli.version} (${cli.source}: ${cli.path})`);
  const build = await buildInfra(root, cli);
  for (const [source, output] of Object.entries(build.outputs)) console.log(`  ${source} → ${output}`);
  for (const diagnostic of build.diagnostics) console.error(formatDiagnostic(diagnostic));
  const errors = build.diagnostics.filter((d) => d.level === 'Error').length;
  const warnings = build.diagnostics.length - errors;
  const sources = Object.keys(build.inputs).filter((file) => file.endsWith('.bicep')).length;
  console.log(`Compiled and linted ${sources} Bicep files: ${errors} errors, ${warnings} warnings.`);
  return build.diagnostics.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`infra:build: ${error instanceof BicepToolError ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
