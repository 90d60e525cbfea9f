/**
 * Our lint of a connector's `apiProperties.json`: the connection parameters, the multi-auth parameter sets
 * ("Add multiple authentications on a custom connector", https://learn.microsoft.com/connectors/custom-connectors/multi-auth:
 * every parameter of a set needs `uiDefinition.constraints.required`), the OAuth settings of an Entra ID (`aad`)
 * token, and the policy templates that read connection parameters. Plain JSON in, so it judges hand-edited files.
 */

/** Every rule the properties lint applies, by the name its problems carry. */
export const PROPERTIES_LINT_RULES = [
  'properties-root',
  'connection-parameter',
  'parameter-required',
  'parameter-set',
  'oauth-setting',
  'policy-template',
  'policy-parameter',
] as const;

export type PropertiesLintRule = (typeof PROPERTIES_LINT_RULES)[number];

/** One broken rule: where (a JSON path into the file), which rule, and what to change. */
export interface PropertiesLintProblem {
  path: string;
  rule: PropertiesLintRule;
  message: string;
}

const PARAMETER_TYPES = ['string', 'securestring', 'int', 'bool', 'oauthSetting', 'gatewaySetting'];
// `token:clientId`-style names qualify a parameter of the token; the platform accepts letters, digits and _.
const PARAMETER_NAME = /^[0-9A-Za-z_]+(:[0-9A-Za-z_]+)?$/;
const REDIRECT_MODES = ['GlobalPerConnector', 'Global', 'Direct'];
// @connectionParameters('name') or @connectionParameters('name', 'default'), as policy values write them.
const PARAMETER_REFERENCE = /@connectionParameters\(\s*'([^']*)'\s*(,\s*'[^']*'\s*)?\)/g;

type Json = Record<string, unknown>;
type Report = (path: string, rule: PropertiesLintRule, message: string) => void;

/**
 * Every problem of an `apiProperties.json` content; empty when it passes.
 *
 * @example
 * lintApiProperties(JSON.parse(await readFile('connector/apiProperties.json', 'utf8'))); // []
 * lintApiProperties({ properties: { iconBrandColor: '#0B6A5A', connectionParameterSets: { values: [] } } });
 * // [{ path: 'properties.connectionParameterSets', rule: 'parameter-set', message: '… at least two sets …' }, …]
 */
export function lintApiProperties(file: unknown): PropertiesLintProblem[] {
  const problems: PropertiesLintProblem[] = [];
  const report: Report = (path, rule, message) => problems.push({ path, rule, message });
  const properties = isRecord(file) ? file.properties : undefined;
  if (!isRecord(properties)) {
    report('properties', 'properties-root', 'apiProperties.json must be an object with a "properties" object.');
    return problems;
  }
  if (typeof properties.iconBrandColor !== 'string' || !/^#[0-9A-Fa-f]{6}$/.test(properties.iconBrandColor))
    report('properties.iconBrandColor', 'properties-root', 'iconBrandColor is required: a color like "#0B6A5A".');

  // The parameter lists a connection may have: each set's, or the single list.
  const lists: { at: string; parameters: Json }[] = [];
  if (properties.connectionParameters !== undefined) {
    if (isRecord(properties.connectionParameters)) {
      lintParameters(properties.connectionParameters, 'properties.connectionParameters', false, report);
      if (properties.connectionParameterSets === undefined)
        lists.push({ at: 'properties.connectionParameters', parameters: properties.connectionParameters });
    } else report('properties.connectionParameters', 'connection-parameter', 'connectionParameters must be an object.');
  }
  if (properties.connectionParameterSets !== undefined)
    lists.push(...lintSets(properties.connectionParameterSets, 'properties.connectionParameterSets', report));

  const policies = properties.policyTemplateInstances;
  if (policies !== undefined && !Array.isArray(policies))
    report('properties.policyTemplateInstances', 'policy-template', 'policyTemplateInstances must be an array.');
  (Array.isArray(policies) ? policies : []).forEach((policy, index) => {
    lintPolicy(policy, `properties.policyTemplateInstances[${index}]`, lists, report);
  });
  return problems;
}

function lintSets(sets: unknown, at: string, report: Report): { at: string; parameters: Json }[] {
  if (!isRecord(sets)) {
    report(at, 'parameter-set', 'connectionParameterSets must be an object with uiDefinition and values.');
    return [];
  }
  lintUi(sets.uiDefinition, `${at}.uiDefinition`, 'parameter-set', report);
  if (!Array.isArray(sets.values) || sets.values.length < 2) {
    report(
      at,
      'parameter-set',
      'connectionParameterSets.values must list at least two sets (else use connectionParameters).',
    );
    if (!Array.isArray(sets.values)) return [];
  }
  const lists: { at: string; parameters: Json }[] = [];
  const names = new Set<string>();
  sets.values.forEach((set, index) => {
    const setAt = `${at}.values[${index}]`;
    if (!isRecord(set)) {
      report(setAt, 'parameter-set', 'Each set must be an object with name, uiDefinition and parameters.');
      return;
    }
    if (typeof set.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(set.name))
      report(`${setAt}.name`, 'parameter-set', 'Each set needs a name of letters, digits, "-" or "_".');
    else if (names.has(set.name)) report(`${setAt}.name`, 'parameter-set', `Set name ${set.name} is used twice.`);
    else names.add(set.name);
    lintUi(set.uiDefinition, `${setAt}.uiDefinition`, 'parameter-set', report);
    if (!isRecord(set.parameters) || Object.keys(set.parameters).length === 0) {
      report(`${setAt}.parameters`, 'parameter-set', 'Each set needs parameters: what its connection asks for.');
      return;
    }
    lintParameters(set.parameters, `${setAt}.parameters`, true, report);
    lists.push({ at: setAt, parameters: set.parameters });
  });
  return lists;
}

function lintParameters(parameters: Json, at: string, inSet: boolean, report: Report): void {
  for (const [name, parameter] of Object.entries(parameters)) {
    const paramAt = `${at}[${JSON.stringify(name)}]`;
    if (!PARAMETER_NAME.test(name))
      report(
        paramAt,
        'connection-parameter',
        `Parameter name ${name} may hold only letters, digits, "_" (and one ":").`,
      );
    if (!isRecord(parameter) || typeof parameter.type !== 'string' || !PARAMETER_TYPES.includes(parameter.type)) {
      report(paramAt, 'connection-parameter', `Parameter ${name} needs a type: one of ${PARAMETER_TYPES.join(', ')}.`);
      continue;
    }
    const ui = isRecord(parameter.uiDefinition) ? parameter.uiDefinition : undefined;
    const constraints = ui && isRecord(ui.constraints) ? ui.constraints : undefined;
    const required = constraints?.required;
    if (inSet && required === undefined)
      report(
        `${paramAt}.uiDefinition.constraints.required`,
        'parameter-required',
        `Parameter ${name} of a parameter set must set uiDefinition.constraints.required ("true" or "false").`,
      );
    else if (required !== undefined && required !== 'true' && required !== 'false')
      report(
        `${paramAt}.uiDefinition.constraints.required`,
        'parameter-required',
        `uiDefinition.constraints.required must be the string "true" or "false", not ${JSON.stringify(required)}.`,
      );
    if (parameter.type === 'securestring' && constraints?.clearText === true)
      report(
        `${paramAt}.uiDefinition.constraints.clearText`,
        'connection-parameter',
        `Secret ${name} must not show as clear text.`,
      );
    if (parameter.type !== 'oauthSetting' && (typeof ui?.displayName !== 'string' || ui.displayName === ''))
      report(`${paramAt}.uiDefinition.displayName`, 'connection-parameter', `Parameter ${name} needs a displayName.`);
    if (parameter.type === 'oauthSetting') lintOAuth(parameter, paramAt, report);
  }
}

function lintOAuth(parameter: Json, at: string, report: Report): void {
  const settings = parameter.oAuthSettings;
  if (!isRecord(settings) || typeof settings.identityProvider !== 'string') {
    report(
      `${at}.oAuthSettings`,
      'oauth-setting',
      'An oauthSetting parameter needs oAuthSettings with an identityProvider.',
    );
    return;
  }
  if (settings.redirectMode !== undefined && !REDIRECT_MODES.includes(String(settings.redirectMode)))
    report(
      `${at}.oAuthSettings.redirectMode`,
      'oauth-setting',
      `redirectMode must be one of ${REDIRECT_MODES.join(', ')}.`,
    );
  else if (settings.redirectMode !== 'GlobalPerConnector')
    report(
      `${at}.oAuthSettings.redirectMode`,
      'oauth-setting',
      'redirectMode must be "GlobalPerConnector": each connector gets its own redirect URL (required since 2024).',
    );
  if (settings.identityProvider !== 'aad') return;
  if (typeof settings.clientId !== 'string' || settings.clientId.trim() === '')
    report(`${at}.oAuthSettings.clientId`, 'oauth-setting', 'An aad token needs the clientId of the connector app.');
  const custom = isRecord(settings.customParameters) ? settings.customParameters : {};
  const value = (name: string) => (isRecord(custom[name]) ? (custom[name] as Json).value : undefined);
  const resource = value('resourceUri');
  if (typeof resource !== 'string' || resource.trim() === '')
    report(
      `${at}.oAuthSettings.customParameters.resourceUri`,
      'oauth-setting',
      'An aad token needs customParameters.resourceUri.value: the Application ID URI of the API the token is for.',
    );
  for (const name of ['loginUri', 'tenantId'])
    if (typeof value(name) !== 'string')
      report(
        `${at}.oAuthSettings.customParameters.${name}`,
        'oauth-setting',
        `An aad token needs customParameters.${name}.value.`,
      );
}

function lintPolicy(policy: unknown, at: string, lists: { at: string; parameters: Json }[], report: Report): void {
  if (!isRecord(policy) || typeof policy.templateId !== 'string' || !isRecord(policy.parameters)) {
    report(at, 'policy-template', 'A policy template instance needs a templateId and parameters.');
    return;
  }
  const parameters = policy.parameters;
  if (policy.templateId.toLowerCase() === 'setheader') {
    for (const key of ['x-ms-apimTemplateParameter.name', 'x-ms-apimTemplateParameter.value'])
      if (typeof parameters[key] !== 'string' || parameters[key] === '')
        report(`${at}.parameters`, 'policy-template', `A setheader policy needs ${key}.`);
  }
  for (const [key, value] of Object.entries(parameters)) {
    if (typeof value !== 'string') continue;
    for (const match of value.matchAll(PARAMETER_REFERENCE)) {
      const name = match[1] as string;
      const hasDefault = match[2] !== undefined;
      const holding = lists.filter((list) => name in list.parameters);
      if (holding.length === 0)
        report(
          `${at}.parameters[${JSON.stringify(key)}]`,
          'policy-parameter',
          `The policy reads connection parameter ${name}, which no connection has.`,
        );
      else if (!hasDefault)
        for (const list of lists)
          if (!(name in list.parameters))
            report(
              `${at}.parameters[${JSON.stringify(key)}]`,
              'policy-parameter',
              `The policy reads ${name}, which ${list.at} lacks: add it there or give a default, @connectionParameters('${name}', '').`,
            );
    }
  }
}

function lintUi(ui: unknown, at: string, rule: PropertiesLintRule, report: Report): void {
  // Learn's structure writes "displayname" in places and certified connectors "displayName"; either is read.
  const name = isRecord(ui) ? (ui.displayName ?? ui.displayname) : undefined;
  if (
    !isRecord(ui) ||
    typeof name !== 'string' ||
    name === '' ||
    typeof ui.description !== 'string' ||
    ui.description === ''
  )
    report(at, rule, 'A uiDefinition with a displayName and a description is required: what the maker picks from.');
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
