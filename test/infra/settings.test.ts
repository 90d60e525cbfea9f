/**
 * The Azure template against the code. The Bicep compiler cannot run here, so the Bicep files are read as text with
 * focused regular expressions (each documented where it is defined), JSON files with JSON.parse, and the app itself is
 * loaded the way the Functions host loads it, with exactly the settings the template gives it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../../shared/config.js';
import { REPO_ROOT } from '../helpers/localHost.js';

const INFRA = join(REPO_ROOT, 'infra');
const read = (...parts: string[]) => readFileSync(join(REPO_ROOT, ...parts), 'utf8');

const FUNCTION_APP_BICEP = read('infra', 'modules', 'functionApp.bicep');
const MAIN_BICEP = read('infra', 'main.bicep');
const EVENT_GRID_BICEP = read('infra', 'modules', 'eventGrid.bicep');
const SERVICE_BUS_BICEP = read('infra', 'modules', 'serviceBus.bicep');
const SUBSCRIPTIONS_BICEP = read('infra', 'eventSubscriptions.bicep');
const AZURE_YAML = read('azure.yaml');

/** Settings the code reads that Azure does not get, each with the reason. */
const NOT_IN_AZURE: Readonly<Record<string, string>> = {
  [SETTINGS.dedicatedStorage]:
    'a connection string carries the account key; in Azure the identity form of AzureWebJobsStorage serves the tables and blobs',
  [SETTINGS.eventGridKey]:
    'the topic has keys disabled; without a key the publisher uses the managed identity (EventGrid Data Sender)',
  [SETTINGS.environment]:
    'Azure sets it to Production itself; Development would let flows register callbacks to private addresses',
  // TODO(merge): the infra engineer's branch sets DATAVERSE_URL from a dataverseUrl parameter; drop this line then.
  [SETTINGS.dataverseUrl]: 'set by the infra change that adds the dataverseUrl parameter (issue 14 merge)',
  [SETTINGS.dataverseTenantId]: 'only with a certificate or secret; in Azure the managed identity signs in',
  [SETTINGS.dataverseClientId]:
    'only for a user-assigned identity or an app registration; the template gives the app a system-assigned identity',
  [SETTINGS.dataverseCertificatePath]: 'the managed identity needs no certificate',
  [SETTINGS.dataverseCertificatePassword]: 'the managed identity needs no certificate',
  [SETTINGS.dataverseClientSecret]: 'a secret is the weaker option; the managed identity needs none',
  [SETTINGS.dataverseTimeoutSeconds]: 'the default (30 s) suits Azure',
  [SETTINGS.dataverseRetryBudgetSeconds]: 'the default (60 s) suits Azure',
  [SETTINGS.dataverseSasKey]: 'read by `dataverse-bridge register` on your machine, never by the app',
  [SETTINGS.dataverseWebhookKey]: 'read by `dataverse-bridge register` on your machine, never by the app',
};

/** The identity-based form (`<connection>__<property>`, the Functions convention) the template uses for a connection. */
const IDENTITY_FORMS: Readonly<Record<string, string>> = {
  [SETTINGS.storage]: `${SETTINGS.storage}__accountName`,
  [SETTINGS.serviceBusConnection]: `${SETTINGS.serviceBusConnection}__fullyQualifiedNamespace`,
};

/** Settings read by the Functions host rather than by our code, which the template may set. */
const HOST_SETTINGS: Readonly<Record<string, string>> = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'where the host sends telemetry',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'telemetry authenticated with the managed identity',
  AzureWebJobsStorage__credential: 'the identity-based AzureWebJobsStorage connection',
};

/**
 * Values for app settings whose Bicep value is computed from a deployed resource, shaped like what Azure puts there.
 * Settings whose value is a literal or a parameter with a default in main.bicep take that instead.
 */
const DEPLOYED_VALUES: Readonly<Record<string, string>> = {
  AzureWebJobsStorage__accountName: 'stbridgeexample',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
  ServiceBusConnection__fullyQualifiedNamespace: 'sb-example.servicebus.windows.net',
  EVENTGRID_TOPIC_ENDPOINT: 'https://evgt-example.westeurope-1.eventgrid.azure.net/api/events',
};

/**
 * The app settings the template gives the function app, with each value expression as written: the top-level keys of
 * the object literal assigned to `var appSettings` in infra/modules/functionApp.bicep, read from that line to the
 * first line that is just `}`. Keys are the two-space-indented `Name: expression` lines; comment lines are skipped.
 */
function bicepAppSettings(): Map<string, string> {
  const block = /^var appSettings = \{\n([\s\S]*?)^\}$/m.exec(FUNCTION_APP_BICEP)?.[1];
  if (block === undefined) throw new Error('infra/modules/functionApp.bicep has no `var appSettings = { … }` block');
  const settings = new Map<string, string>();
  for (const line of block.split('\n')) {
    const entry = /^ {2}([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.+?)\s*$/.exec(line);
    if (entry) settings.set(entry[1] as string, entry[2] as string);
  }
  return settings;
}

/**
 * main.bicep's parameter defaults that are literals: lines `param <name> <int|string|bool> = <literal>`, with string
 * quotes removed.
 */
function mainParameterDefaults(): Map<string, string> {
  const defaults = new Map<string, string>();
  for (const match of MAIN_BICEP.matchAll(/^param (\w+) (?:int|string|bool) = ('[^']*'|\d+|true|false)\s*$/gm)) {
    defaults.set(match[1] as string, (match[2] as string).replace(/^'|'$/g, ''));
  }
  return defaults;
}

/** Every parameter main.bicep declares (`param <name> <type>`), and whether it has a default. */
function mainParameters(): Map<string, { hasDefault: boolean }> {
  const parameters = new Map<string, { hasDefault: boolean }>();
  for (const match of MAIN_BICEP.matchAll(/^param (\w+) \w+(\[\])?( = .+)?$/gm)) {
    parameters.set(match[1] as string, { hasDefault: match[3] !== undefined });
  }
  return parameters;
}

/**
 * What a setting holds once deployed: a string literal (`'…'`) as is; a parameter (`name` or `string(name)`, the module
 * passing main.bicep's parameter of the same name) as its main.bicep default; otherwise a value shaped like the
 * deployed resource's (DEPLOYED_VALUES).
 */
function deployedValue(name: string, expression: string, defaults: Map<string, string>): string {
  const literal = /^'([^']*)'$/.exec(expression);
  if (literal) return literal[1] as string;
  const parameter = /^(?:string\((\w+)\)|(\w+))$/.exec(expression);
  const defaultValue = parameter ? defaults.get((parameter[1] ?? parameter[2]) as string) : undefined;
  if (defaultValue !== undefined) return defaultValue;
  const deployed = DEPLOYED_VALUES[name];
  if (deployed === undefined) throw new Error(`Add a deployed-value example for ${name} (Bicep: ${expression}).`);
  return deployed;
}

/**
 * The function names the Event Grid subscriptions deliver to: the `'${<site>.id}/functions/<name>'` resource ids of
 * the AzureFunction destinations in infra/eventSubscriptions.bicep.
 */
function subscribedFunctions(): string[] {
  return [...SUBSCRIPTIONS_BICEP.matchAll(/resourceId: '\$\{\w+\.id\}\/functions\/(\w+)'/g)].map((m) => m[1] as string);
}

/** The `rights: [ … ]` lists of the Service Bus authorization rules in infra/modules/serviceBus.bicep, as names. */
function sasRuleRights(): string[][] {
  return [...SERVICE_BUS_BICEP.matchAll(/rights:\s*\[([^\]]*)\]/g)].map((m) =>
    [...(m[1] as string).matchAll(/'(\w+)'/g)].map((right) => right[1] as string),
  );
}

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

interface LoadedFunction {
  name: string;
  trigger: Record<string, unknown> & { type: string };
}

/**
 * Loads the compiled app in a fresh Node process the way the Functions host does (shared/localhost/registrations.ts
 * stands in for the host's `@azure/functions-core`), with `env` as its only settings, and returns what it registered.
 * Every function file validates the settings at start-up, so a setting Azure lacks fails here by name.
 */
function loadAppWith(env: Record<string, string>): LoadedFunction[] {
  const registrations = pathToFileURL(join(REPO_ROOT, 'dist', 'shared', 'localhost', 'registrations.js')).href;
  const script = [
    `import { loadApp } from ${JSON.stringify(registrations)};`,
    `const loaded = await loadApp(${JSON.stringify(REPO_ROOT)});`,
    'process.stdout.write(JSON.stringify(loaded.map(({ name, trigger }) => ({ name, trigger }))));',
  ].join('\n');
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.status !== 0) {
    throw new Error(`The app did not start with the Azure settings (run "npm run build" first?):\n${result.stderr}`);
  }
  return JSON.parse(result.stdout) as LoadedFunction[];
}

describe('the Azure template (infra/) against the code', () => {
  const appSettings = bicepAppSettings();
  let functions: LoadedFunction[] = [];

  beforeAll(() => {
    const defaults = mainParameterDefaults();
    const env = Object.fromEntries(
      [...appSettings].map(([name, expression]) => [name, deployedValue(name, expression, defaults)]),
    );
    functions = loadAppWith(env);
  });

  it('sets every setting the code reads, by its name or identity form, or says why Azure goes without it', () => {
    const missing = Object.values(SETTINGS).filter((name) => {
      const identityForm = IDENTITY_FORMS[name];
      const set = appSettings.has(name) || (identityForm !== undefined && appSettings.has(identityForm));
      return !set && NOT_IN_AZURE[name] === undefined;
    });
    expect(missing).toEqual([]);
    // The exceptions are real settings, and really left out.
    for (const name of Object.keys(NOT_IN_AZURE)) {
      expect(Object.values(SETTINGS)).toContain(name);
      expect(appSettings.has(name)).toBe(false);
    }
  });

  it('connects to storage and Service Bus through the identity, with no connection string', () => {
    for (const [connection, identityForm] of Object.entries(IDENTITY_FORMS)) {
      expect(appSettings.has(connection)).toBe(false);
      expect(appSettings.has(identityForm)).toBe(true);
    }
    expect(appSettings.get('AzureWebJobsStorage__credential')).toBe("'managedidentity'");
    expect(appSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe("'Authorization=AAD'");
  });

  it('lists every setting the code reads in local.settings.sample.json', () => {
    const sample = JSON.parse(read('local.settings.sample.json')) as { Values: Record<string, string> };
    const absent = Object.values(SETTINGS).filter((name) => !(name in sample.Values));
    expect(absent).toEqual([]);
  });

  it('sets no app setting that neither the code nor the Functions host reads', () => {
    const readers = new Set<string>([
      ...Object.values(SETTINGS),
      ...Object.values(IDENTITY_FORMS),
      ...Object.keys(HOST_SETTINGS),
    ]);
    const stray = [...appSettings.keys()].filter((name) => !readers.has(name));
    expect(stray).toEqual([]);
  });

  it('starts the app with exactly the Azure settings and registers every function file, the topic trigger included', () => {
    const files = readdirSync(join(REPO_ROOT, 'functions'))
      .filter((file) => file.endsWith('.ts'))
      .map((file) => file.replace(/\.ts$/, ''))
      .sort();
    expect(functions.map((f) => f.name).sort()).toEqual(files);
    expect(functions.find((f) => f.name === 'dataverseTopic')?.trigger.type).toBe('serviceBusTrigger');
  });

  it('gives every Service Bus trigger its connection and every %SETTING% it names a value', () => {
    const triggers = functions.filter((f) => f.trigger.type === 'serviceBusTrigger');
    expect(triggers.map((f) => f.name).sort()).toEqual(['dataverseQueue', 'dataverseTopic']);
    for (const { trigger } of triggers) {
      const connection = trigger.connection as string;
      expect(appSettings.has(connection) || appSettings.has(`${connection}__fullyQualifiedNamespace`)).toBe(true);
      const placeholders = ['queueName', 'topicName', 'subscriptionName']
        .map((option) => trigger[option])
        .filter((value): value is string => typeof value === 'string')
        .map((value) => /^%(\w+)%$/.exec(value)?.[1]);
      expect(placeholders.length).toBeGreaterThan(0);
      for (const setting of placeholders) {
        expect(setting).toBeDefined();
        expect(appSettings.has(setting as string)).toBe(true);
      }
    }
  });

  it('subscribes exactly the Event Grid functions the app registers, each from its own function file', () => {
    const subscribed = subscribedFunctions();
    const eventGridFunctions = functions.filter((f) => f.trigger.type === 'eventGridTrigger').map((f) => f.name);
    expect(subscribed.sort()).toEqual(eventGridFunctions.sort());
    expect(subscribed.sort()).toEqual(['deliverSubscriptions', 'projectChanges']);
    for (const name of subscribed) {
      const file = join(REPO_ROOT, 'functions', `${name}.ts`);
      expect(existsSync(file)).toBe(true);
      expect(readFileSync(file, 'utf8')).toMatch(new RegExp(`app\\.eventGrid(?:<[^>]*>)?\\('${name}'`));
    }
  });

  it('speaks CloudEvents 1.0 into the topic and out of every subscription, to functions, with dead-lettering', () => {
    expect([...EVENT_GRID_BICEP.matchAll(/inputSchema: '(\w+)'/g)].map((m) => m[1])).toEqual(['CloudEventSchemaV1_0']);
    const destinations = [...SUBSCRIPTIONS_BICEP.matchAll(/endpointType: 'AzureFunction'/g)].length;
    const schemas = [...SUBSCRIPTIONS_BICEP.matchAll(/eventDeliverySchema: '(\w+)'/g)].map((m) => m[1]);
    expect(destinations).toBe(subscribedFunctions().length);
    expect(schemas).toEqual(Array(destinations).fill('CloudEventSchemaV1_0'));
    expect([...SUBSCRIPTIONS_BICEP.matchAll(/deadLetterWithResourceIdentity: deadLetter$/gm)].length).toBe(
      destinations,
    );
    expect([...SUBSCRIPTIONS_BICEP.matchAll(/retryPolicy: \{/g)].length).toBe(destinations);
  });

  it('gives Dataverse Send-only SAS rules, on the queue and on the topic', () => {
    expect(sasRuleRights()).toEqual([['Send'], ['Send']]);
    expect(SERVICE_BUS_BICEP).toMatch(/'Microsoft\.ServiceBus\/namespaces\/queues\/authorizationRules@[\w-]+'/);
    expect(SERVICE_BUS_BICEP).toMatch(/'Microsoft\.ServiceBus\/namespaces\/topics\/authorizationRules@[\w-]+'/);
    expect(SERVICE_BUS_BICEP).not.toMatch(/'Microsoft\.ServiceBus\/namespaces\/authorizationRules@/);
  });

  it('keeps keys and connection strings out of infra/, literal or computed', () => {
    const offending = filesUnder(INFRA).flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return ['AccountKey=', 'SharedAccessKey=', 'listKeys(', 'listConnectionStrings(', 'primaryKey'].flatMap(
        (pattern) => (text.includes(pattern) ? [`${relative(REPO_ROOT, file)}: ${pattern}`] : []),
      );
    });
    expect(offending).toEqual([]);
  });

  it('feeds main.bicep every parameter without a default, and no parameter it lacks', () => {
    const parameters = mainParameters();
    const file = JSON.parse(read('infra', 'main.parameters.json')) as { parameters: Record<string, unknown> };
    const given = Object.keys(file.parameters);
    expect(given.filter((name) => !parameters.has(name))).toEqual([]);
    const required = [...parameters].filter(([, { hasDefault }]) => !hasDefault).map(([name]) => name);
    expect(required.filter((name) => !given.includes(name))).toEqual([]);
  });

  it('names hook scripts in azure.yaml that exist, for both shells', () => {
    const scripts = [...AZURE_YAML.matchAll(/^\s*run: (\.\/\S+)$/gm)].map((m) => m[1] as string);
    expect(scripts.sort()).toEqual([
      './infra/hooks/postdeploy.ps1',
      './infra/hooks/postdeploy.sh',
      './infra/hooks/registerDataverse.ps1',
      './infra/hooks/registerDataverse.sh',
    ]);
    for (const script of scripts) expect(existsSync(join(REPO_ROOT, script))).toBe(true);
    const postdeploy = /^ {2}postdeploy:\n((?: {4}.*\n)+)/m.exec(AZURE_YAML)?.[1] ?? '';
    expect(postdeploy).toMatch(/posix:\n\s+shell: sh\n\s+run: \.\/infra\/hooks\/postdeploy\.sh/);
    expect(postdeploy).toMatch(/windows:\n\s+shell: pwsh\n\s+run: \.\/infra\/hooks\/postdeploy\.ps1/);
    // The hook reads these from azd's environment: main.bicep must output them.
    const hook = read('infra', 'hooks', 'postdeploy.sh');
    const hookInputs = [...hook.matchAll(/"\$([A-Z][A-Z0-9_]*)"/g)].map((m) => m[1] as string);
    expect(hookInputs).toContain('EVENTGRID_TOPIC_NAME');
    const outputs = [...MAIN_BICEP.matchAll(/^output (\w+) /gm)].map((m) => m[1]);
    for (const name of new Set(hookInputs)) {
      // AZURE_SUBSCRIPTION_ID is azd's own; the rest come from the template.
      if (name !== 'AZURE_SUBSCRIPTION_ID') expect(outputs).toContain(name);
    }
  });
});
