#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { type ParseOptions, runParse } from './parse.js';

/** Exit code for input that cannot be read as a Dataverse context (and for usage errors). */
const EXIT_BAD_INPUT = 2;

const program = new Command()
  .name('dataverse-bridge')
  .description('Dataverse Bridge tools: read Dataverse execution contexts the way the Functions app does.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program
  .command('parse')
  .description('Print the normalized context (JSON) of a Dataverse execution context read from a file or stdin.')
  .argument('[file]', 'a file holding the context as Dataverse posts it, or - for standard input', '-')
  .option('--content-type <type>', 'the Content-Type the transport declared, e.g. "application/json; charset=utf-8"')
  .option(
    '--property <name=value>',
    'a Service Bus application property, e.g. MessageMaxSizeExceeded=true (repeatable)',
    collect,
    [],
  )
  .option(
    '--header <name:value>',
    'a webhook header, e.g. "x-ms-dynamics-organization: contoso.crm.dynamics.com" (repeatable)',
    collect,
    [],
  )
  .option('--compact', 'print the JSON on one line')
  .addHelpText(
    'after',
    `
Exit codes: 0 the context was read; 2 the input is not a readable Dataverse context (the reason is printed).

Examples:
  dataverse-bridge parse context.json
  cat message.bin | dataverse-bridge parse - --content-type application/json --property MessageMaxSizeExceeded=true`,
  )
  .action(async (file: string, options: ParseOptions) => {
    process.exitCode = await runParse(file, options, process.stdout, process.stderr);
  });

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here with exit code 0; usage errors were already printed by commander.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
  } else {
    throw error;
  }
}
