/**
 * The connector's two connection types (Function key, Microsoft Entra ID) and the lint of apiProperties.json.
 * Expectations come from "Add multiple authentications on a custom connector"
 * (https://learn.microsoft.com/connectors/custom-connectors/multi-auth: connectionParameterSets.uiDefinition and
 * values[].name/uiDefinition/parameters; "uiDefinition-constraints-required: true is a mandatory parameter … for each
 * auth type under parameters"), its AAD example (oauthSetting, identityProvider aad, clientId, customParameters
 * loginUri/tenantId/resourceUri, IsFirstParty "False", scopes), and the certified connector that sends a key next to
 * an aad token (PowerPlatformConnectors certified-connectors/CognitiveServicesQuestionAnswering: a `setheader` policy
 * reading @connectionParameters, no securityDefinitions in its definition).
 */
import { access, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { buildDefinition } from '../../shared/connector/openapi.js';
import { runConnector } from '../../tools/cli/connector.js';
import { buildMultiAuthProperties, validateEntraOptions } from '../../tools/connector/apiProperties.js';
import { lintDefinition } from '../../tools/connector/lint.js';
import {
  lintApiProperties,
  PROPERTIES_LINT_RULES,
  type PropertiesLintRule,
} from '../../tools/connector/lintProperties.js';
import { capture, inTempDir } from '../helpers/cliOutput.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLIENT = '6d81597f-0a3b-4c1e-9f3a-2b7c8d9e0f11';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const RESOURCE = 'api://0f8e2d4c-1b3a-4e5f-8a7b-9c0d1e2f3a4b';
const ENTRA = { entraClientId: CLIENT, entraResourceUri: RESOURCE, entraTenantId: TENANT };

type Json = Record<string, unknown>;

async function committedProperties(): Promise<Json> {
  return JSON.parse(await readFile(join(ROOT, 'connector', 'apiProperties.json'), 'utf8')) as Json;
}

/** A fresh copy of the multi-auth properties, to break in place. */
function multiAuth(): { properties: Json & { connectionParameterSets: { values: Json[] } } } {
  return JSON.parse(
    JSON.stringify(buildMultiAuthProperties({ clientId: CLIENT, resourceUri: RESOURCE, tenantId: TENANT })),
  );
}

describe('the multi-auth apiProperties.json', () => {
  const file = buildMultiAuthProperties({ clientId: CLIENT, resourceUri: RESOURCE, tenantId: TENANT }).properties;
  const sets = file.connectionParameterSets;

  it('offers two connection types, each named and described for the maker', () => {
    expect(sets.uiDefinition).toEqual({ displayName: expect.any(String), description: expect.any(String) });
    expect(sets.values.map((set) => [set.name, set.uiDefinition.displayName])).toEqual([
      ['functionKey', 'Function key'],
      ['entraId', 'Microsoft Entra ID'],
    ]);
    for (const set of sets.values) expect(set.uiDefinition.description).toMatch(/\S/);
  });

  it('marks every parameter of every set required, as Learn makes mandatory', () => {
    for (const set of sets.values)
      for (const parameter of Object.values(set.parameters as Record<string, Json>))
        expect((parameter.uiDefinition as { constraints: Json }).constraints.required).toBe('true');
  });

  it('asks the Function key set for the key alone, as a secret', () => {
    const parameters = sets.values[0]?.parameters as Record<string, Json>;
    expect(Object.keys(parameters)).toEqual(['api_key']);
    expect(parameters.api_key).toMatchObject({
      type: 'securestring',
      uiDefinition: { displayName: 'Function key', constraints: { clearText: false, required: 'true' } },
    });
  });

  it('signs the Entra ID set in with an aad token for the API app, and asks for the key too', () => {
    const parameters = sets.values[1]?.parameters as Record<string, Json>;
    expect(Object.keys(parameters).sort()).toEqual(['api_key', 'token']);
    expect(parameters.token?.type).toBe('oauthSetting');
    expect(parameters.token?.oAuthSettings).toEqual({
      identityProvider: 'aad',
      clientId: CLIENT,
      scopes: [],
      redirectMode: 'GlobalPerConnector',
      properties: { IsFirstParty: 'False' },
      customParameters: {
        loginUri: { value: 'https://login.microsoftonline.com' },
        tenantId: { value: TENANT },
        resourceUri: { value: RESOURCE },
      },
    });
    expect(parameters.api_key).toMatchObject({
      type: 'securestring',
      uiDefinition: { constraints: { required: 'true' } },
    });
  });

  it('sends the key as x-functions-key by a setheader policy on every request', () => {
    expect(file.policyTemplateInstances).toEqual([
      {
        templateId: 'setheader',
        title: expect.any(String),
        parameters: {
          'x-ms-apimTemplateParameter.name': 'x-functions-key',
          'x-ms-apimTemplateParameter.value': "@connectionParameters('api_key')",
          'x-ms-apimTemplateParameter.existsAction': 'override',
          'x-ms-apimTemplate-policySection': 'Request',
        },
      },
    ]);
  });

  it('keeps the committed single-auth parameters and branding as its default', async () => {
    const committed = (await committedProperties()).properties as Json;
    expect(committed.connectionParameterSets).toBeUndefined();
    expect(file.connectionParameters).toEqual(committed.connectionParameters);
    for (const key of ['iconBrandColor', 'capabilities', 'publisher', 'stackOwner'] as const)
      expect(file[key]).toEqual(committed[key]);
  });

  it('passes the properties lint, like the committed single-auth file', async () => {
    expect(lintApiProperties({ properties: file })).toEqual([]);
    expect(lintApiProperties(await committedProperties())).toEqual([]);
  });
});

describe('validateEntraOptions', () => {
  it('accepts GUIDs and api:// or https Application ID URIs, trimmed', () => {
    expect(validateEntraOptions({ clientId: ` ${CLIENT} `, resourceUri: `${RESOURCE} `, tenantId: TENANT })).toEqual({
      clientId: CLIENT,
      resourceUri: RESOURCE,
      tenantId: TENANT,
    });
    for (const resourceUri of ['api://dataverse-bridge', 'https://contoso.onmicrosoft.com/dataverse-bridge'])
      expect(validateEntraOptions({ clientId: CLIENT, resourceUri, tenantId: TENANT }).resourceUri).toBe(resourceUri);
  });

  it.each([
    [{ clientId: 'dataverse-bridge' }, '--entra-client-id', /not a GUID.*client\) id/],
    [{ clientId: `${CLIENT}0` }, '--entra-client-id', /not a GUID/],
    [{ tenantId: 'contoso.onmicrosoft.com' }, '--entra-tenant-id', /not a GUID.*tenant/],
    [{ resourceUri: 'http://contoso.com/bridge' }, '--entra-resource-uri', /not an Application ID URI/],
    [{ resourceUri: 'api://' }, '--entra-resource-uri', /api:\/\/<its client id>/],
    [{ resourceUri: 'dataverse-bridge' }, '--entra-resource-uri', /not an Application ID URI/],
    [{ resourceUri: 'api://dataverse bridge' }, '--entra-resource-uri', /not an Application ID URI/],
  ])('rejects %j naming %s', (bad, option, message) => {
    const options = { clientId: CLIENT, resourceUri: RESOURCE, tenantId: TENANT, ...bad };
    expect(() => validateEntraOptions(options)).toThrow(
      expect.objectContaining({ option, message: expect.stringMatching(message) }),
    );
  });
});

describe('dataverse-bridge connector --entra-*', () => {
  it('writes the multi-auth definition and properties into --out, lint-clean and valid Swagger', () =>
    inTempDir(async (dir) => {
      const out = capture();
      const err = capture();
      expect(await runConnector({ out: dir, host: 'contoso-bridge.azurewebsites.net', ...ENTRA }, out, err)).toBe(0);
      expect(err.text()).toBe('');
      expect(out.text()).toContain('connection types: Function key, Microsoft Entra ID');
      expect(out.text()).toContain(
        `pac connector create --api-definition-file ${join(dir, 'apiDefinition.swagger.json')}`,
      );

      const written = JSON.parse(await readFile(join(dir, 'apiDefinition.swagger.json'), 'utf8')) as Json;
      // The connection types live in apiProperties.json: no api_key security definition, the rest unchanged.
      expect(written.securityDefinitions).toEqual({});
      expect(written.security).toEqual([]);
      const single = JSON.parse(JSON.stringify(buildDefinition({ host: 'contoso-bridge.azurewebsites.net' }))) as Json;
      expect({ ...written, securityDefinitions: undefined, security: undefined }).toEqual({
        ...single,
        securityDefinitions: undefined,
        security: undefined,
      });
      await SwaggerParser.validate(structuredClone(written) as never);
      expect(lintDefinition(written)).toEqual([]);

      const properties = JSON.parse(await readFile(join(dir, 'apiProperties.json'), 'utf8')) as {
        properties: { connectionParameterSets: { values: { name: string }[] } };
      };
      expect(properties.properties.connectionParameterSets.values.map((set) => set.name)).toEqual([
        'functionKey',
        'entraId',
      ]);
      expect(lintApiProperties(properties)).toEqual([]);
    }));

  it('never replaces existing files without --force', () =>
    inTempDir(async (dir) => {
      await writeFile(join(dir, 'apiProperties.json'), '{"mine":true}');
      const err = capture();
      expect(await runConnector({ out: dir, ...ENTRA }, capture(), err)).toBe(2);
      expect(err.text()).toMatch(/apiProperties\.json already exists: choose another --out, or add --force/);
      expect(await readFile(join(dir, 'apiProperties.json'), 'utf8')).toBe('{"mine":true}');
      await expect(access(join(dir, 'apiDefinition.swagger.json'))).rejects.toThrow();

      expect(await runConnector({ out: dir, ...ENTRA, force: true }, capture(), capture())).toBe(0);
      expect(await readFile(join(dir, 'apiProperties.json'), 'utf8')).toContain('connectionParameterSets');
    }));

  it.each([
    [{ out: 'x', entraClientId: CLIENT }, /also needs --entra-resource-uri and --entra-tenant-id/],
    [{ out: 'x', entraResourceUri: RESOURCE, entraTenantId: TENANT }, /also needs --entra-client-id \(/],
    [{ ...ENTRA }, /give --out <dir>.*connector\/ keeps the single-auth files/],
    [{ out: 'x', check: true, ...ENTRA }, /--check compares the committed single-auth definition/],
    [{ out: 'x', ...ENTRA, entraClientId: 'abc' }, /^error: --entra-client-id: "abc" is not a GUID/],
    [{ out: 'x', ...ENTRA, entraResourceUri: 'ftp://bridge' }, /^error: --entra-resource-uri: /],
    [{ out: 'x', ...ENTRA, entraTenantId: 'common' }, /^error: --entra-tenant-id: /],
  ])('is a usage error (exit 2) for %j, writing nothing', (options, message) =>
    inTempDir(async (dir) => {
      const err = capture();
      const out = capture();
      const at = 'out' in options ? { ...options, out: join(dir, 'x') } : options;
      expect(await runConnector(at, out, err)).toBe(2);
      expect(err.text()).toMatch(message);
      expect(out.text()).toBe('');
      await expect(access(join(dir, 'x'))).rejects.toThrow();
    }),
  );

  it('--check also lints the apiProperties.json beside the definition', () =>
    inTempDir(async (dir) => {
      expect(await runConnector({ out: dir }, capture(), capture())).toBe(0);
      const broken = multiAuth();
      delete ((broken.properties.connectionParameterSets.values[1] as Json).parameters as Record<string, Json>).api_key;
      await writeFile(join(dir, 'apiProperties.json'), JSON.stringify(broken));
      const err = capture();
      expect(await runConnector({ out: dir, check: true }, capture(), err)).toBe(1);
      expect(err.text()).toContain('reads api_key, which properties.connectionParameterSets.values[1] lacks');
      expect(err.text()).toContain('1 lint problem');

      await writeFile(join(dir, 'apiProperties.json'), '{ not json');
      const bad = capture();
      expect(await runConnector({ out: dir, check: true }, capture(), bad)).toBe(1);
      expect(bad.text()).toContain('apiProperties.json: the file is not valid JSON');
    }));
});

describe('lintApiProperties', () => {
  it("accepts Learn's multi-auth example (API key and basic authentication)", () => {
    // The example of https://learn.microsoft.com/connectors/custom-connectors/multi-auth, with the brand color every
    // apiProperties.json has.
    const text = (name: string, type: string, required = true) => ({
      type,
      uiDefinition: {
        displayName: name,
        schema: { description: `The ${name}`, type },
        ...(type === 'securestring'
          ? { constraints: { clearText: false, required: String(required) } }
          : { constraints: { required: 'true' } }),
      },
    });
    const example = {
      properties: {
        iconBrandColor: '#007ee5',
        connectionParameterSets: {
          uiDefinition: { displayName: 'Authentication Type', description: 'Type of authentication to be used.' },
          values: [
            {
              name: 'basic-auth',
              uiDefinition: {
                displayName: 'Use your X credentials',
                description: 'Log in using your username and password for X.',
              },
              parameters: { username: text('X username', 'string'), password: text('X password', 'securestring') },
            },
            {
              name: 'api-auth',
              uiDefinition: { displayName: 'Use X API Key', description: "Log in using X's API Key." },
              parameters: {
                api_key: text('API Key generated in X', 'securestring'),
                environment: text('Environment', 'string'),
              },
            },
          ],
        },
      },
    };
    expect(lintApiProperties(example)).toEqual([]);
  });

  type Case = {
    name: string;
    rule: PropertiesLintRule;
    path: string;
    breakIt: (file: ReturnType<typeof multiAuth>) => unknown;
  };
  const entra = (file: ReturnType<typeof multiAuth>) => file.properties.connectionParameterSets.values[1] as Json;
  const token = (file: ReturnType<typeof multiAuth>) =>
    ((entra(file).parameters as Record<string, Json>).token as Json).oAuthSettings as Json;
  const SETS = 'properties.connectionParameterSets';
  const TOKEN = `${SETS}.values[1].parameters["token"]`;
  const POLICY = 'properties.policyTemplateInstances[0]';

  const CASES: Case[] = [
    {
      name: 'no properties object',
      rule: 'properties-root',
      path: 'properties',
      breakIt: () => ({ connectionParameters: {} }),
    },
    {
      name: 'no brand color',
      rule: 'properties-root',
      path: 'properties.iconBrandColor',
      breakIt: (file) => {
        delete file.properties.iconBrandColor;
      },
    },
    {
      name: 'an unknown parameter type',
      rule: 'connection-parameter',
      path: `${SETS}.values[0].parameters["api_key"]`,
      breakIt: (file) => {
        (
          ((file.properties.connectionParameterSets.values[0] as Json).parameters as Record<string, Json>)
            .api_key as Json
        ).type = 'password';
      },
    },
    {
      name: 'a parameter name with a dot',
      rule: 'connection-parameter',
      path: 'properties.connectionParameters["api.key"]',
      breakIt: (file) => {
        (file.properties.connectionParameters as Json)['api.key'] = (
          file.properties.connectionParameters as Json
        ).api_key;
        delete (file.properties.connectionParameters as Json).api_key;
      },
    },
    {
      name: 'a secret shown as clear text',
      rule: 'connection-parameter',
      path: 'properties.connectionParameters["api_key"].uiDefinition.constraints.clearText',
      breakIt: (file) => {
        (
          (((file.properties.connectionParameters as Record<string, Json>).api_key as Json).uiDefinition as Json)
            .constraints as Json
        ).clearText = true;
      },
    },
    {
      name: 'a parameter of a set without constraints.required',
      rule: 'parameter-required',
      path: `${TOKEN}.uiDefinition.constraints.required`,
      breakIt: (file) => {
        delete (
          (((entra(file).parameters as Record<string, Json>).token as Json).uiDefinition as Json).constraints as Json
        ).required;
      },
    },
    {
      name: 'constraints.required as a boolean',
      rule: 'parameter-required',
      path: `${SETS}.values[1].parameters["api_key"].uiDefinition.constraints.required`,
      breakIt: (file) => {
        (
          (((entra(file).parameters as Record<string, Json>).api_key as Json).uiDefinition as Json).constraints as Json
        ).required = true;
      },
    },
    {
      name: 'a single set',
      rule: 'parameter-set',
      path: SETS,
      breakIt: (file) => {
        file.properties.connectionParameterSets.values.pop();
      },
    },
    {
      name: 'two sets of one name',
      rule: 'parameter-set',
      path: `${SETS}.values[1].name`,
      breakIt: (file) => {
        entra(file).name = 'functionKey';
      },
    },
    {
      name: 'a set without a description',
      rule: 'parameter-set',
      path: `${SETS}.values[0].uiDefinition`,
      breakIt: (file) => {
        (file.properties.connectionParameterSets.values[0]?.uiDefinition as Json).description = '';
      },
    },
    {
      name: 'a set without parameters',
      rule: 'parameter-set',
      path: `${SETS}.values[0].parameters`,
      breakIt: (file) => {
        (file.properties.connectionParameterSets.values[0] as Json).parameters = {};
      },
    },
    {
      name: 'the shared redirect URL',
      rule: 'oauth-setting',
      path: `${TOKEN}.oAuthSettings.redirectMode`,
      breakIt: (file) => {
        token(file).redirectMode = 'Global';
      },
    },
    {
      name: 'an aad token without a resource',
      rule: 'oauth-setting',
      path: `${TOKEN}.oAuthSettings.customParameters.resourceUri`,
      breakIt: (file) => {
        delete (token(file).customParameters as Json).resourceUri;
      },
    },
    {
      name: 'an aad token without a client id',
      rule: 'oauth-setting',
      path: `${TOKEN}.oAuthSettings.clientId`,
      breakIt: (file) => {
        token(file).clientId = '';
      },
    },
    {
      name: 'a setheader policy without a header name',
      rule: 'policy-template',
      path: `${POLICY}.parameters`,
      breakIt: (file) => {
        delete (((file.properties.policyTemplateInstances as Json[])[0] as Json).parameters as Json)[
          'x-ms-apimTemplateParameter.name'
        ];
      },
    },
    {
      name: 'a policy reading a parameter no connection has',
      rule: 'policy-parameter',
      path: `${POLICY}.parameters["x-ms-apimTemplateParameter.value"]`,
      breakIt: (file) => {
        ((file.properties.policyTemplateInstances as Json[])[0]?.parameters as Json)[
          'x-ms-apimTemplateParameter.value'
        ] = "@connectionParameters('functionKey')";
      },
    },
    {
      name: 'a policy reading, without a default, a parameter one set lacks',
      rule: 'policy-parameter',
      path: `${POLICY}.parameters["x-ms-apimTemplateParameter.value"]`,
      breakIt: (file) => {
        delete (entra(file).parameters as Json).api_key;
      },
    },
  ];

  it.each(CASES)('reports $name [$rule]', ({ rule, path, breakIt }) => {
    const file = multiAuth();
    const replaced = breakIt(file);
    const problems = lintApiProperties(replaced ?? file);
    expect(problems.map((problem) => [problem.rule, problem.path])).toEqual([[rule, path]]);
    expect(problems[0]?.message).toMatch(/\S/);
  });

  it('has a case for every rule it applies', () => {
    expect(new Set(CASES.map((c) => c.rule))).toEqual(new Set(PROPERTIES_LINT_RULES));
  });

  it('lets a policy read a parameter one set lacks when it gives a default', () => {
    const file = multiAuth();
    delete (entra(file).parameters as Json).api_key;
    ((file.properties.policyTemplateInstances as Json[])[0]?.parameters as Json)['x-ms-apimTemplateParameter.value'] =
      "@connectionParameters('api_key', '')";
    expect(lintApiProperties(file)).toEqual([]);
  });
});
