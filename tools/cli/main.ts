#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { addConnectorCommand } from './connector.js';
import { type ParseOptions, runParse } from './parse.js';
import { addRegisterCommand } from './register.js';
import { runSend, type SendOptions } from './send.js';
import { addStatusCommand } from './status.js';
import { addWhoAmICommand } from './whoami.js';

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

program
  .command('send')
  .description(
    'Post Dataverse execution contexts the way Dataverse does: to the webhook (default), to the local queue function ' +
      '(--queue), or to a Service Bus queue (--service-bus). Files are sent byte-for-byte, bad input included.',
  )
  .argument('[paths...]', 'context files, or folders (every *.json file inside, sorted)')
  .option('--to <url>', 'the Functions host', 'http://localhost:7071')
  .addOption(
    new Option('--key <key>', 'webhook: the function key, sent as ?code=; --queue: the host key (x-functions-key)').env(
      'BRIDGE_LOCAL_KEY',
    ),
  )
  .option(
    '--queue [name]',
    'send to the dataverseQueue function through the local host (POST /admin/functions/dataverseQueue) ' +
      'instead of the webhook; with --service-bus, the queue to send to',
  )
  .option(
    '--service-bus <connection string>',
    'send to a real Service Bus namespace with @azure/service-bus (needs --queue <name>)',
  )
  .option(
    '--settings <file>',
    'without --key, for a local --to: the settings file BRIDGE_LOCAL_KEY is read from, as npm start reads it ' +
      '(default: local.settings.json, else local.settings.sample.json)',
  )
  .option(
    '--fresh',
    'give each context new OperationId and CorrelationId values, so the bridge publishes it as a new event ' +
      '(a context sent before is otherwise a duplicate)',
  )
  .option(
    '--organization <domain>',
    'the environment domain sent as x-ms-dynamics-organization / the Organization claim ' +
      '(default: <OrganizationName>.crm.dynamics.com, or contoso.crm.dynamics.com)',
  )
  .addHelpText(
    'after',
    `
A progress line per file goes to stderr (with --queue, each message's outcome: published, duplicate, or rejected with
its code), then "sent N, accepted A, failed F" to stdout. A context is accepted when the host answers 2xx and did
not reject it (or Service Bus took it). Without --key (or BRIDGE_LOCAL_KEY), a local --to gets the key npm start
reads from its settings.

Exit codes: 0 every context was accepted; 1 some were not (or the host could not be reached); 2 a usage error
(unknown option, no files, a path that does not exist, --service-bus without --queue): nothing was sent.

Examples:
  npm start   # in another terminal: the local host at http://localhost:7071
  dataverse-bridge send samples/contexts                       # every context, as a webhook
  dataverse-bridge send samples/contexts samples/bad --key "$BRIDGE_LOCAL_KEY"
  dataverse-bridge send samples/contexts --queue               # as Service Bus messages, through the local host
  dataverse-bridge send samples/contexts --fresh               # the same contexts as new operations: new events
  dataverse-bridge send ctx.json --to https://myapp.azurewebsites.net --key <function key> --organization contoso.crm4.dynamics.com
  dataverse-bridge send samples/contexts --queue dataverse --service-bus "$SERVICEBUS_CONNECTION"

Write --queue after the paths (or --queue=name): its value is optional, so "--queue samples/contexts" reads the folder
as the queue's name (without --service-bus, an existing path there is still taken as a path).`,
  )
  .action(async (paths: string[], options: SendOptions) => {
    process.exitCode = await runSend(paths, options, process.stdout, process.stderr);
  });

addConnectorCommand(program);
addWhoAmICommand(program);
addRegisterCommand(program);
addStatusCommand(program);

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
