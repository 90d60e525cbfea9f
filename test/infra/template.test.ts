/**
 * The Azure template as Azure Resource Manager receives it: the ARM JSON the Bicep compiler makes of infra/
 * (`npm run infra:build`, reused when current), evaluated for the parameters azd passes (test/infra/armTemplate.ts),
 * against the code and against what the README and docs/deploy.md promise. The app itself is loaded the way the
 * Functions host loads it, with exactly the settings the template gives it.
 *
 * Where no Bicep CLI and no dotnet exist, one test says so plainly and passes (CI=true makes that a failure: CI
 * always compiles). Checks that need no compiler are in settings.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../../shared/config.js';
import { buildInfra, findBicep, formatDiagnostic } from '../../tools/infra/bicep.js';
import { APP_PACKAGE } from '../bench/build.js';
import { REPO_ROOT } from '../helpers/localHost.js';
import { ArmDeployment, type DeployedResource, type DeploymentScope, Unknown, type Value } from './armTemplate.js';
import { compiledInfra } from './compiledInfra.js';

const infra = await compiledInfra();

/** Any subscription and tenant: ids are built from them, so they only need to be recognisable. */
const SCOPE: DeploymentScope = {
  subscriptionId: '00000000-0000-0000-0000-00000000a5b5',
  tenantId: '00000000-0000-0000-0000-0000000007e7',
};
/** What azd puts in the environment before provisioning (azd env new, azd auth login). */
const AZD_ENV: Record<string, string> = {
  AZURE_ENV_NAME: 'bridge-test',
  AZURE_LOCATION: 'westeurope',
  AZURE_PRINCIPAL_ID: '11111111-2222-3333-4444-555555555555',
};
const RESOURCE_GROUP = `/subscriptions/${SCOPE.subscriptionId}/resourceGroups/rg-${AZD_ENV.AZURE_ENV_NAME}`;

/**
 * Built-in role definition ids, from https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
 * (written here from that page, not from roles.bicep).
 */
const ROLE = {
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'Storage Blob Data Reader': '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  'Storage Table Data Reader': '76199698-9eea-4c19-bc75-cec21354c6b6',
  'Azure Service Bus Data Receiver': '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
  'Azure Service Bus Data Owner': '090c5cfd-751d-490a-894a-3ce6f1109419',
  'EventGrid Data Sender': 'd5a91429-5739-47e2-a06b-3470a27159e7',
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
  // Microsoft Learn, "Azure built-in roles for Storage".
  'Storage Queue Data Reader': '19e7f393-937e-4f77-808e-94535e297925',
  'Storage Queue Data Message Processor': '8a0f0c08-91a1-4084-bc3d-661d67233fed',
  'Storage Queue Data Message Sender': 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
} as const;
type RoleName = keyof typeof ROLE;

/** Settings the code reads that Azure does not get, each with the reason. */
const NOT_IN_AZURE: Readonly<Record<string, string>> = {
  [SETTINGS.dedicatedStorage]:
    'a connection string carries the account key; in Azure the identity form of AzureWebJobsStorage serves the tables and blobs',
  [SETTINGS.eventGridKey]:
    'the topic has keys disabled; without a key the publisher uses the managed identity (EventGrid Data Sender)',
  [SETTINGS.environment]:
    'Azure sets it to Production itself; Development would let flows register callbacks to private addresses',
  [SETTINGS.dataverseTenantId]: 'the app authenticates to Dataverse with its managed identity, in its own tenant',
  [SETTINGS.dataverseCertificatePath]:
    'a certificate is for app registrations; in Azure the managed identity replaces it',
  [SETTINGS.dataverseCertificatePassword]:
    'a certificate is for app registrations; in Azure the managed identity replaces it',
  [SETTINGS.dataverseClientSecret]: 'a secret; in Azure the managed identity replaces it',
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
  AzureWebJobsStorage__queueServiceUri:
    "verifyHeld's Queue trigger (connection AzureWebJobsStorage) and the app's checks (shared/config.ts)",
};

/** Values shaped like what Azure puts in the settings that are known only once deployed. */
const DEPLOYED_VALUES: Readonly<Record<string, string>> = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
  ServiceBusConnection__fullyQualifiedNamespace: 'sb-example.servicebus.windows.net',
  EVENTGRID_TOPIC_ENDPOINT: 'https://evgt-example.westeurope-1.eventgrid.azure.net/api/events',
  DATAVERSE_CLIENT_ID: '9a8b7c6d-0000-4000-8000-000000000001',
  AzureWebJobsStorage__queueServiceUri: 'https://stexample.queue.core.windows.net/',
};

/** main.parameters.json as azd resolves it: `${NAME}` and `${NAME=default}` from the environment, typed. */
function azdParameters(template: unknown): Record<string, Value> {
  const file = JSON.parse(readFileSync(join(REPO_ROOT, 'infra', 'main.parameters.json'), 'utf8')) as {
    parameters: Record<string, { value: unknown }>;
  };
  const declared = (template as { parameters: Record<string, { type: string }> }).parameters;
  return Object.fromEntries(
    Object.entries(file.parameters).map(([name, { value }]) => {
      const text = String(value).replace(/\$\{(\w+)(?:=([^}]*))?\}/g, (_, variable: string, fallback?: string) => {
        return AZD_ENV[variable] ?? fallback ?? '';
      });
      const type = declared[name]?.type.toLowerCase();
      const typed: Value = type === 'bool' ? text === 'true' : type === 'int' ? Number(text) : text;
      return [name, typed];
    }),
  );
}

/** `Unknown` → `<resource id>#<property path>`, so an expectation can say which deployed property a value is. */
function describeValue(value: Value): Value {
  if (value instanceof Unknown) {
    const ref = value.ref;
    return ref ? `${ref.id}#${ref.path.join('.')}` : `<derived from ${value.refs.map((r) => r.id).join(', ')}>`;
  }
  return value;
}

function only(resources: DeployedResource[], type: string): DeployedResource {
  const found = resources.filter((r) => r.type === type && !r.existing);
  expect(found.map((r) => r.key)).toHaveLength(1);
  return found[0] as DeployedResource;
}

interface LoadedFunction {
  name: string;
  trigger: Record<string, unknown> & { type: string };
}

/**
 * Loads the compiled app in a fresh Node process the way the Functions host does (tools/localhost/registrations.ts
 * stands in for the host's `@azure/functions-core`), with `env` as its only settings, and returns what it registered.
 * Every function file validates the settings at start-up, so a setting Azure lacks fails here by name.
 */
function loadAppWith(env: Record<string, string>): LoadedFunction[] {
  const registrations = pathToFileURL(join(REPO_ROOT, 'dist', 'tools', 'localhost', 'registrations.js')).href;
  const script = [
    `import { loadApp } from ${JSON.stringify(registrations)};`,
    `const loaded = await loadApp(${JSON.stringify(APP_PACKAGE)});`,
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

if (!infra.compiled) {
  describe('the compiled Azure template (infra/)', () => {
    it('was NOT compiled on this machine (no Bicep CLI, no dotnet): the template tests did not run here', () => {
      console.warn(
        `\n*** infra/ was NOT compiled: ${infra.reason}. The template tests did not run on this machine; ` +
          'CI runs them (npm run infra:build). Install the .NET SDK or the Azure CLI to run them here. ***\n',
      );
      expect(infra.reason).toMatch(/^no Bicep CLI/);
      expect(process.env.CI).not.toBe('true');
    });
  });
} else {
  const { build, templates } = infra;
  const mainTemplate = templates['infra/main.bicep'];
  const subscriptionsTemplate = templates['infra/eventSubscriptions.bicep'];
  const deploy = (overrides: Record<string, Value> = {}) =>
    new ArmDeployment(mainTemplate, { ...azdParameters(mainTemplate), ...overrides }, SCOPE);
  const main = deploy();
  const outputs = main.outputs();
  const output = (name: string) => {
    const value = outputs[name];
    if (typeof value !== 'string') throw new Error(`Output ${name} is not known before deployment`);
    return value;
  };
  const appSettingsOf = (deployment: ArmDeployment): Record<string, Value> => {
    const config = deployment
      .module('functionApp')
      .resources()
      .filter((r) => r.type === 'Microsoft.Web/sites/config' && r.name.endsWith('/appsettings'));
    expect(config).toHaveLength(1);
    return config[0]?.body.properties as Record<string, Value>;
  };
  const appSettings = appSettingsOf(main);
  const names = {
    storage: output('STORAGE_ACCOUNT_NAME'),
    serviceBus: output('SERVICEBUS_NAMESPACE'),
    queue: output('SERVICEBUS_QUEUE_NAME'),
    topic: output('SERVICEBUS_TOPIC_NAME'),
    subscription: output('SERVICEBUS_SUBSCRIPTION_NAME'),
    eventGridTopic: output('EVENTGRID_TOPIC_NAME'),
    deadLetter: output('EVENTGRID_DEADLETTER_CONTAINER'),
    appInsights: output('APPLICATIONINSIGHTS_NAME'),
    site: output('AZURE_FUNCTION_APP_NAME'),
  };
  const ids = {
    storage: `${RESOURCE_GROUP}/providers/Microsoft.Storage/storageAccounts/${names.storage}`,
    serviceBus: `${RESOURCE_GROUP}/providers/Microsoft.ServiceBus/namespaces/${names.serviceBus}`,
    eventGridTopic: `${RESOURCE_GROUP}/providers/Microsoft.EventGrid/topics/${names.eventGridTopic}`,
    appInsights: `${RESOURCE_GROUP}/providers/Microsoft.Insights/components/${names.appInsights}`,
    site: `${RESOURCE_GROUP}/providers/Microsoft.Web/sites/${names.site}`,
  };
  const appPrincipal = `${ids.site}#identity.principalId`;
  const topicPrincipal = `${ids.eventGridTopic}#identity.principalId`;

  /** Every role assignment the deployment makes, as role name, scope and principal. */
  const roleAssignments = (deployment: ArmDeployment) =>
    deployment
      .module('roles')
      .resources()
      .filter((r) => r.type === 'Microsoft.Authorization/roleAssignments' && r.deployed)
      .map(({ body }) => {
        const properties = body.properties as Record<string, Value>;
        const definition = String(properties.roleDefinitionId);
        const prefix = `/subscriptions/${SCOPE.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/`;
        expect(definition.startsWith(prefix)).toBe(true);
        const guid = definition.slice(prefix.length);
        const role = (Object.keys(ROLE) as RoleName[]).find((name) => ROLE[name] === guid) ?? `unknown role ${guid}`;
        return {
          role,
          scope: body.scope,
          principal: describeValue(properties.principalId as Value),
          principalType: properties.principalType ?? null,
        };
      })
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const sortAssignments = <T>(list: T[]) =>
    [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

  describe('the compiled Azure template (infra/)', () => {
    let functions: LoadedFunction[] = [];

    /** The settings with their deployed values: known ones as compiled, the rest shaped like Azure's. */
    const deployedEnv = (settings: Record<string, Value>) =>
      Object.fromEntries(
        Object.entries(settings).map(([name, value]) => {
          if (!(value instanceof Unknown)) return [name, String(value)];
          const example = DEPLOYED_VALUES[name];
          if (example === undefined) throw new Error(`Add a deployed-value example for ${name}`);
          return [name, example];
        }),
      );

    beforeAll(() => {
      functions = loadAppWith(deployedEnv(appSettings));
    });

    it('compiles every Bicep file, modules included, with no error and no warning', () => {
      console.log(
        `infra/: Bicep CLI ${build.bicep.version} (${build.bicep.source}), ${infra.reused ? 'reused the build of' : 'compiled'} ` +
          `${Object.keys(build.outputs).length} files`,
      );
      expect(build.diagnostics.map(formatDiagnostic)).toEqual([]);
      const sources = Object.keys(build.inputs).filter((file) => file.endsWith('.bicep'));
      expect(Object.keys(build.outputs).sort()).toEqual(sources.sort());
      expect(sources).toEqual(expect.arrayContaining(['infra/main.bicep', 'infra/eventSubscriptions.bicep']));
    });

    it('fails the build on a misspelled property and on a lint warning, naming file, line and rule', async () => {
      const lookup = await findBicep({ root: REPO_ROOT });
      if (!lookup.found) throw new Error(lookup.reason);
      const copy = mkdtempSync(join(tmpdir(), 'infra-broken-'));
      try {
        cpSync(join(REPO_ROOT, 'infra'), join(copy, 'infra'), { recursive: true });
        const eventGrid = join(copy, 'infra', 'modules', 'eventGrid.bicep');
        writeFileSync(eventGrid, readFileSync(eventGrid, 'utf8').replace('inputSchema:', 'inputSchem:'));
        const storage = join(copy, 'infra', 'modules', 'storage.bicep');
        writeFileSync(storage, `${readFileSync(storage, 'utf8')}\nparam unused string = 'x'\n`);
        const broken = await buildInfra(copy, lookup.cli);
        expect(broken.diagnostics.map((d) => [d.file, d.level, d.code])).toEqual(
          expect.arrayContaining([
            ['infra/modules/eventGrid.bicep', 'Warning', 'BCP089'],
            ['infra/modules/storage.bicep', 'Warning', 'no-unused-params'],
          ]),
        );
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    }, 180_000);

    it('takes every parameter main.parameters.json gives, and gets every one without a default', () => {
      // ArmDeployment refuses a parameter the template lacks and a missing one without a default.
      expect(() => deploy()).not.toThrow();
      const given = azdParameters(mainTemplate);
      expect(given).toMatchObject({ environmentName: 'bridge-test', location: 'westeurope', nodeVersion: '22' });
      expect(given.dataverseUrl).toBe('');
    });

    it('sets every setting the code reads, by its name or identity form, or says why Azure goes without it', () => {
      const missing = Object.values(SETTINGS).filter((name: string) => {
        const identityForm = IDENTITY_FORMS[name];
        const set = name in appSettings || (identityForm !== undefined && identityForm in appSettings);
        return !set && NOT_IN_AZURE[name] === undefined;
      });
      expect(missing).toEqual([]);
      // The exceptions are really left out, and real settings.
      for (const name of Object.keys(NOT_IN_AZURE)) {
        expect(appSettings).not.toHaveProperty(name);
        expect(Object.values(SETTINGS)).toContain(name);
      }
    });

    it('sets no app setting that neither the code nor the Functions host reads', () => {
      const readers = new Set<string>([
        ...Object.values(SETTINGS),
        ...Object.values(IDENTITY_FORMS),
        ...Object.keys(HOST_SETTINGS),
      ]);
      expect(Object.keys(appSettings).filter((name) => !readers.has(name))).toEqual([]);
    });

    it('connects to storage, Service Bus, Event Grid and Application Insights with the identity, no secret', () => {
      for (const [connection, identityForm] of Object.entries(IDENTITY_FORMS)) {
        expect(appSettings).not.toHaveProperty(connection);
        expect(appSettings).toHaveProperty(identityForm);
      }
      expect(appSettings.AzureWebJobsStorage__accountName).toBe(names.storage);
      expect(appSettings.AzureWebJobsStorage__credential).toBe('managedidentity');
      expect(appSettings).not.toHaveProperty('AzureWebJobsStorage__clientId'); // the system-assigned identity
      const namespace = appSettings.ServiceBusConnection__fullyQualifiedNamespace as Unknown;
      expect(namespace.refs.map((r) => r.id)).toEqual([ids.serviceBus]);
      expect(describeValue(appSettings.EVENTGRID_TOPIC_ENDPOINT as Value)).toBe(
        `${ids.eventGridTopic}#properties.endpoint`,
      );
      expect(appSettings).not.toHaveProperty(SETTINGS.eventGridKey);
      expect(appSettings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toBe('Authorization=AAD');
      // The connection string is a locator only: the component accepts no key-authenticated telemetry.
      expect(describeValue(appSettings.APPLICATIONINSIGHTS_CONNECTION_STRING as Value)).toBe(
        `${ids.appInsights}#properties.ConnectionString`,
      );
      const component = only(main.module('monitoring').resources(), 'Microsoft.Insights/components');
      expect((component.body.properties as Record<string, Value>).DisableLocalAuth).toBe(true);
      const storage = only(main.module('storage').resources(), 'Microsoft.Storage/storageAccounts');
      expect(storage.body.properties).toMatchObject({ allowSharedKeyAccess: false, allowBlobPublicAccess: false });
    });

    it('puts no secret in an app setting or an output, and calls no list*() function anywhere', () => {
      const everything = JSON.stringify(templates);
      expect(everything.match(/\blist\w*\(/gi) ?? []).toEqual([]);
      for (const [name, value] of Object.entries({ ...appSettings, ...outputs })) {
        expect(JSON.stringify(describeValue(value))).not.toMatch(/AccountKey=|SharedAccessKey=|SharedAccessSignature/);
        if (value instanceof Unknown) {
          // A deployed value may be a locator or an id, never a key property.
          for (const ref of value.refs) expect(ref.path.join('.'), name).not.toMatch(/key|secret|password/i);
        }
      }
      const outputTypes = Object.values(main.outputTypes()).map((type) => type.toLowerCase());
      expect(outputTypes.filter((type) => type.startsWith('secure'))).toEqual([]);
      expect(Object.keys(outputs).filter((name) => /KEY|SECRET|PASSWORD|CONNECTION_STRING/.test(name))).toEqual([]);
    });

    it('starts the app with exactly the Azure settings and registers every function file, the topic trigger included', () => {
      const files = readdirSync(join(REPO_ROOT, 'functions'))
        .filter((file) => file.endsWith('.ts'))
        .map((file) => file.replace(/\.ts$/, ''))
        .sort();
      expect(functions.map((f) => f.name).sort()).toEqual(files);
      expect(functions.find((f) => f.name === 'dataverseTopic')?.trigger.type).toBe('serviceBusTrigger');
    });

    it('starts the app with a Dataverse environment configured too', () => {
      const withDataverse = appSettingsOf(deploy({ dataverseUrl: 'https://contoso.crm.dynamics.com' }));
      const loaded = loadAppWith(deployedEnv(withDataverse));
      expect(loaded.map((f) => f.name).sort()).toEqual(functions.map((f) => f.name).sort());
    });

    it('gives every Service Bus trigger its connection and every %SETTING% it names a value', () => {
      const triggers = functions.filter((f) => f.trigger.type === 'serviceBusTrigger');
      expect(triggers.map((f) => f.name).sort()).toEqual(['dataverseQueue', 'dataverseTopic']);
      for (const { trigger } of triggers) {
        const connection = trigger.connection as string;
        expect(`${connection}__fullyQualifiedNamespace` in appSettings).toBe(true);
        const placeholders = ['queueName', 'topicName', 'subscriptionName']
          .map((option) => trigger[option])
          .filter((value): value is string => typeof value === 'string')
          .map((value) => /^%(\w+)%$/.exec(value)?.[1]);
        expect(placeholders.length).toBeGreaterThan(0);
        for (const setting of placeholders) {
          expect(setting).toBeDefined();
          expect(appSettings[setting as string]).toEqual(expect.any(String));
          expect(appSettings[setting as string]).not.toBe('');
        }
      }
      expect(appSettings.DATAVERSE_QUEUE_NAME).toBe(names.queue);
      expect(appSettings.DATAVERSE_TOPIC_NAME).toBe(names.topic);
      expect(appSettings.DATAVERSE_SUBSCRIPTION_NAME).toBe(names.subscription);
    });

    it('leaves bearer tokens off and the application-user Dataverse operations off by default, and takes them from azd', () => {
      // Empty settings are unset to the app: no token is accepted, and a function key alone gets 403.
      expect({
        tenant: appSettings.BRIDGE_AUTH_TENANT_ID,
        audience: appSettings.BRIDGE_AUTH_AUDIENCE,
        issuer: appSettings.BRIDGE_AUTH_ISSUER,
        metadata: appSettings.BRIDGE_AUTH_METADATA_URL,
        appOperations: appSettings.BRIDGE_DATAVERSE_APP_OPERATIONS,
      }).toEqual({ tenant: '', audience: '', issuer: '', metadata: '', appOperations: 'false' });
      const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
      const file = JSON.parse(readFileSync(join(REPO_ROOT, 'infra', 'main.parameters.json'), 'utf8')) as {
        parameters: Record<string, { value: string }>;
      };
      // azd substitutes these from the environment (`azd env set`); they are azd's syntax, not JavaScript templates.
      const azd = (name: string): string => `\${${name}}`;
      expect(file.parameters.authTenantId?.value).toBe(azd('BRIDGE_AUTH_TENANT_ID'));
      expect(file.parameters.authAudience?.value).toBe(azd('BRIDGE_AUTH_AUDIENCE'));
      expect(file.parameters.dataverseAppOperations?.value).toBe(azd('BRIDGE_DATAVERSE_APP_OPERATIONS=false'));
      const configured = appSettingsOf(
        deploy({
          dataverseUrl: 'https://contoso.crm.dynamics.com',
          authTenantId: tenant,
          authAudience: 'api://bridge,0b3d8f4e-1111-4222-8333-444455556666',
          authIssuer: 'https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
          authMetadataUrl:
            'https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/.well-known/openid-configuration',
          dataverseAppOperations: true,
        }),
      );
      expect(configured).toMatchObject({
        BRIDGE_AUTH_TENANT_ID: tenant,
        BRIDGE_AUTH_AUDIENCE: 'api://bridge,0b3d8f4e-1111-4222-8333-444455556666',
        BRIDGE_AUTH_ISSUER: 'https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
        BRIDGE_DATAVERSE_APP_OPERATIONS: 'true',
      });
      // The app starts with them: the settings validate as the code reads them.
      const loaded = loadAppWith(deployedEnv(configured));
      expect(loaded.map((f) => f.name).sort()).toEqual(functions.map((f) => f.name).sort());
    });

    it('creates the verification queue and its poison queue that verifyHeld and the host use, with the hold settings', () => {
      const trigger = functions.find((f) => f.name === 'verifyHeld')?.trigger;
      expect(trigger).toMatchObject({
        type: 'queueTrigger',
        queueName: 'bridge-verify',
        connection: 'AzureWebJobsStorage',
      });
      const queuesOf = (deployment: ArmDeployment) =>
        deployment
          .module('storage')
          .resources()
          .filter((r) => r.type === 'Microsoft.Storage/storageAccounts/queueServices/queues')
          .map((r) => r.name.split('/').at(-1))
          .sort();
      expect(queuesOf(main)).toEqual(['bridge-verify', 'bridge-verify-poison']);
      expect(describeValue(appSettings.AzureWebJobsStorage__queueServiceUri as Value)).toBe(
        `${ids.storage}#properties.primaryEndpoints.queue`,
      );
      expect(appSettings).toMatchObject({
        BRIDGE_VERIFY_SYNC: 'true',
        BRIDGE_VERIFY_DELAY_SECONDS: '5',
        BRIDGE_VERIFY_WINDOW_SECONDS: '300',
      });
      const prefixed = deploy({ storagePrefix: 'acme', verifySync: false });
      expect(queuesOf(prefixed)).toEqual(['acme-verify', 'acme-verify-poison']);
      expect(appSettingsOf(prefixed).BRIDGE_VERIFY_SYNC).toBe('false');
    });

    it('gives the reconciliation timer the schedule setting it names, and leaves reconciliation off by default', () => {
      const timer = functions.find((f) => f.name === 'reconcileChanges');
      expect(timer?.trigger.type).toBe('timerTrigger');
      const setting = /^%(\w+)%$/.exec(String(timer?.trigger.schedule))?.[1];
      expect(setting).toBe('BRIDGE_RECONCILE_SCHEDULE');
      expect(appSettings[setting as string]).toBe('0 */15 * * * *');
      expect(appSettings.BRIDGE_RECONCILE_TABLES).toBe('');
    });

    it('grants the app and the topic exactly the least-privilege roles docs/deploy.md lists, at those scopes', () => {
      const sb = ids.serviceBus;
      const expected = [
        { role: 'Storage Blob Data Owner', scope: ids.storage, principal: appPrincipal },
        { role: 'Storage Table Data Contributor', scope: ids.storage, principal: appPrincipal },
        { role: 'Azure Service Bus Data Receiver', scope: `${sb}/queues/${names.queue}`, principal: appPrincipal },
        {
          role: 'Azure Service Bus Data Receiver',
          scope: `${sb}/topics/${names.topic}/subscriptions/${names.subscription}`,
          principal: appPrincipal,
        },
        { role: 'EventGrid Data Sender', scope: ids.eventGridTopic, principal: appPrincipal },
        { role: 'Monitoring Metrics Publisher', scope: ids.appInsights, principal: appPrincipal },
        // verifyHeld's Queue trigger (Reader + Message Processor, as Learn lists for an identity-based Queue trigger)
        // and the checks the app sends (Message Sender), on the verification queue only; the host's poison messages.
        ...[
          'Storage Queue Data Reader',
          'Storage Queue Data Message Processor',
          'Storage Queue Data Message Sender',
        ].map((role) => ({
          role,
          scope: `${ids.storage}/queueServices/default/queues/bridge-verify`,
          principal: appPrincipal,
        })),
        {
          role: 'Storage Queue Data Contributor',
          scope: `${ids.storage}/queueServices/default/queues/bridge-verify-poison`,
          principal: appPrincipal,
        },
        {
          role: 'Storage Blob Data Contributor',
          scope: `${ids.storage}/blobServices/default/containers/${names.deadLetter}`,
          principal: topicPrincipal,
        },
      ].map((a) => ({ ...a, principalType: 'ServicePrincipal' }));
      expect(roleAssignments(main)).toEqual(sortAssignments(expected));
    });

    it('grants Service Bus Data Owner instead, still on the queue and the subscription only, for scaling', () => {
      const owner = roleAssignments(deploy({ serviceBusOwnerForScaling: true })).filter((a) =>
        a.role.startsWith('Azure Service Bus'),
      );
      expect(owner.map((a) => [a.role, a.scope])).toEqual(
        sortAssignments([
          ['Azure Service Bus Data Owner', `${ids.serviceBus}/queues/${names.queue}`],
          [
            'Azure Service Bus Data Owner',
            `${ids.serviceBus}/topics/${names.topic}/subscriptions/${names.subscription}`,
          ],
        ]),
      );
    });

    it('gives the azd user read-only data roles on storage only when grantDeveloperAccess is on', () => {
      const person = (list: ReturnType<typeof roleAssignments>) =>
        list.filter((a) => a.principal === AZD_ENV.AZURE_PRINCIPAL_ID).map((a) => [a.role, a.scope]);
      expect(person(roleAssignments(main))).toEqual([]);
      expect(person(roleAssignments(deploy({ grantDeveloperAccess: true })))).toEqual(
        sortAssignments([
          ['Storage Blob Data Reader', ids.storage],
          ['Storage Table Data Reader', ids.storage],
        ]),
      );
    });

    it('gives Dataverse Send-only SAS rules, one on the queue and one on the topic, none on the namespace', () => {
      const rules = main
        .module('serviceBus')
        .resources()
        .filter((r) => r.type.endsWith('/authorizationRules'));
      expect(rules.map((r) => [r.type, r.name]).sort()).toEqual([
        [
          'Microsoft.ServiceBus/namespaces/queues/authorizationRules',
          `${names.serviceBus}/${names.queue}/dataverse-send`,
        ],
        [
          'Microsoft.ServiceBus/namespaces/topics/authorizationRules',
          `${names.serviceBus}/${names.topic}/dataverse-send`,
        ],
      ]);
      for (const rule of rules) expect((rule.body.properties as Record<string, Value>).rights).toEqual(['Send']);
      expect(output('SERVICEBUS_QUEUE_SEND_RULE')).toBe('dataverse-send');
      expect(output('SERVICEBUS_TOPIC_SEND_RULE')).toBe('dataverse-send');
    });

    it('makes the Event Grid topic take CloudEvents 1.0 with local (key) auth off, unless allowEventGridKeys', () => {
      const topicOf = (deployment: ArmDeployment) =>
        only(deployment.module('eventGrid').resources(), 'Microsoft.EventGrid/topics');
      const topic = topicOf(main);
      expect(topic.id).toBe(ids.eventGridTopic);
      expect(topic.body.properties).toMatchObject({ inputSchema: 'CloudEventSchemaV1_0', disableLocalAuth: true });
      expect(topic.body.identity).toEqual({ type: 'SystemAssigned' });
      const withKeys = topicOf(deploy({ allowEventGridKeys: true }));
      expect((withKeys.body.properties as Record<string, Value>).disableLocalAuth).toBe(false);
    });

    it('runs the app on Flex Consumption, Linux, Node.js 22 by default, deploying from blob storage with its identity', () => {
      const resources = main.module('functionApp').resources();
      const plan = only(resources, 'Microsoft.Web/serverfarms');
      expect(plan.body.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
      expect(plan.body.properties).toMatchObject({ reserved: true });
      const site = only(resources, 'Microsoft.Web/sites');
      expect(site.id).toBe(ids.site);
      expect(site.body.kind).toBe('functionapp,linux');
      const properties = site.body.properties as Record<string, Record<string, Record<string, Value>>>;
      expect(properties.serverFarmId).toBe(plan.id);
      expect(properties.httpsOnly).toBe(true);
      const config = properties.functionAppConfig as Record<string, Record<string, Value>>;
      expect(config.runtime).toEqual({ name: 'node', version: '22' });
      expect(config.deployment?.storage).toMatchObject({
        type: 'blobContainer',
        authentication: { type: 'SystemAssignedIdentity' },
      });
      const container = (config.deployment as Record<string, Record<string, Value>>).storage?.value as Unknown;
      expect(container.refs.map((r) => r.id)).toEqual([ids.storage]);
      expect(config.scaleAndConcurrency).toEqual({ maximumInstanceCount: 100, instanceMemoryMB: 2048 });
      expect(site.body.tags).toMatchObject({ 'azd-env-name': 'bridge-test', 'azd-service-name': 'api' });
      // Node.js 20 (past its end of life, still run by Flex Consumption) stays selectable; the parameter reaches the runtime.
      const node20 = only(deploy({ nodeVersion: '20' }).module('functionApp').resources(), 'Microsoft.Web/sites');
      expect(node20.body.properties).toMatchObject({ functionAppConfig: { runtime: { name: 'node', version: '20' } } });
    });

    it('calls Dataverse as a user-assigned identity with no Azure role, whose client id it outputs', () => {
      const resources = main.module('functionApp').resources();
      const identity = only(resources, 'Microsoft.ManagedIdentity/userAssignedIdentities');
      const site = only(resources, 'Microsoft.Web/sites');
      expect(site.body.identity).toEqual({
        type: 'SystemAssigned, UserAssigned',
        userAssignedIdentities: { [identity.id]: {} },
      });
      const clientId = `${identity.id}#properties.clientId`;
      expect(describeValue(outputs.DATAVERSE_APPLICATION_ID as Value)).toBe(clientId);
      // Off until DATAVERSE_URL is given (azd env set DATAVERSE_URL …): both settings empty.
      expect([appSettings.DATAVERSE_URL, appSettings.DATAVERSE_CLIENT_ID]).toEqual(['', '']);
      const configured = appSettingsOf(deploy({ dataverseUrl: 'https://contoso.crm.dynamics.com' }));
      expect(configured.DATAVERSE_URL).toBe('https://contoso.crm.dynamics.com');
      expect(describeValue(configured.DATAVERSE_CLIENT_ID as Value)).toBe(clientId);
      const principals = roleAssignments(main).map((a) => a.principal);
      expect(principals.filter((p) => String(p).startsWith(identity.id))).toEqual([]);
    });

    it('subscribes exactly the Event Grid functions the app registers, with CloudEvents, retries and dead-lettering', () => {
      const subscriptions = new ArmDeployment(
        subscriptionsTemplate,
        {
          topicName: names.eventGridTopic,
          functionAppName: names.site,
          deadLetterStorageAccountName: names.storage,
          deadLetterContainerName: names.deadLetter,
        },
        { ...SCOPE, resourceGroup: `rg-${AZD_ENV.AZURE_ENV_NAME}` },
      )
        .resources()
        .filter((r) => r.type === 'Microsoft.EventGrid/topics/eventSubscriptions');
      const eventGridFunctions = functions.filter((f) => f.trigger.type === 'eventGridTrigger').map((f) => f.name);
      expect(eventGridFunctions.sort()).toEqual(['deliverSubscriptions', 'projectChanges']);
      expect(subscriptions.map((s) => s.name).sort()).toEqual(
        eventGridFunctions.map((name) => `${names.eventGridTopic}/${name}`),
      );
      for (const subscription of subscriptions) {
        const functionName = subscription.name.split('/')[1] as string;
        const properties = subscription.body.properties as Record<string, Record<string, Value>>;
        expect(properties.destination).toMatchObject({
          endpointType: 'AzureFunction',
          properties: { resourceId: `${ids.site}/functions/${functionName}`, maxEventsPerBatch: 1 },
        });
        expect(properties.eventDeliverySchema).toBe('CloudEventSchemaV1_0');
        expect(properties.retryPolicy).toEqual({
          maxDeliveryAttempts: expect.any(Number),
          eventTimeToLiveInMinutes: 1440,
        });
        expect(properties.deadLetterWithResourceIdentity).toEqual({
          identity: { type: 'SystemAssigned' },
          deadLetterDestination: {
            endpointType: 'StorageBlob',
            properties: { resourceId: ids.storage, blobContainerName: names.deadLetter },
          },
        });
        const file = join(REPO_ROOT, 'functions', `${functionName}.ts`);
        expect(existsSync(file)).toBe(true);
        expect(readFileSync(file, 'utf8')).toMatch(new RegExp(`app\\.eventGrid(?:<[^>]*>)?\\('${functionName}'`));
      }
    });

    it('outputs every value the postdeploy hook reads from the azd environment', () => {
      const hook = readFileSync(join(REPO_ROOT, 'infra', 'hooks', 'postdeploy.sh'), 'utf8');
      const hookInputs = new Set([...hook.matchAll(/"\$([A-Z][A-Z0-9_]*)"/g)].map((m) => m[1] as string));
      expect(hookInputs).toContain('EVENTGRID_TOPIC_NAME');
      // AZURE_SUBSCRIPTION_ID is azd's own; the rest come from the template.
      hookInputs.delete('AZURE_SUBSCRIPTION_ID');
      expect([...hookInputs].filter((name) => !(name in outputs))).toEqual([]);
      expect(output('AZURE_RESOURCE_GROUP')).toBe(`rg-${AZD_ENV.AZURE_ENV_NAME}`);
    });
  });
}
