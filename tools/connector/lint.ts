/**
 * Our lint of the Power Platform certification rules a connector definition must meet (see
 * https://learn.microsoft.com/connectors/custom-connectors/coding-standards and connector-string-guidance), beyond
 * what a Swagger 2.0 validator checks. It reads the definition as plain JSON, so it also judges hand-edited files.
 */
import { serializeDefinition } from '../../shared/connector/openapi.js';

/** Every rule the lint applies, by the name its problems carry. */
export const LINT_RULES = [
  'swagger-version',
  'file-size',
  'info-title',
  'info-description',
  'info-contact',
  'connector-metadata',
  'paths',
  'operation-id',
  'operation-id-unique',
  'operation-summary',
  'operation-description',
  'operation-visibility',
  'parameter-summary',
  'parameter-description',
  'parameter-visibility',
  'path-parameter',
  'internal-required-default',
  'body-property-summary',
  'body-property-description',
  'body-property-visibility',
  'schema-property-summary',
  'schema-property-description',
  'response-success',
  'response-default',
  'pageable',
  'dynamic-values',
  'dynamic-schema',
  'trigger-present',
  'trigger',
  'trigger-notification-url',
  'trigger-location',
  'trigger-notification-content',
] as const;

export type LintRule = (typeof LINT_RULES)[number];

/** One broken rule: where (a JSON path into the definition), which rule, and what to change. */
export interface LintProblem {
  path: string;
  rule: LintRule;
  message: string;
}

/** The size limit of a custom connector's definition file. */
export const MAX_DEFINITION_BYTES = 1024 * 1024;

const VISIBILITIES = ['important', 'advanced', 'internal'];
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];
const REQUIRED_METADATA = ['Website', 'Privacy policy', 'Categories'];

type Json = Record<string, unknown>;

/**
 * Every certification problem of a definition; empty when it passes. `fileBytes` is the file as it will be
 * uploaded (for the size rule); without it the size of the two-space serialization is used.
 *
 * @example
 * lintDefinition(buildDefinition()); // []
 * lintDefinition({ ...buildDefinition(), info: { title: 'Dataverse Bridge API' } });
 * // [{ path: 'info.title', rule: 'info-title', message: 'The title must not contain "API" …' }, …]
 */
export function lintDefinition(definition: unknown, fileBytes?: Uint8Array | string): LintProblem[] {
  const problems: LintProblem[] = [];
  const reported = new Set<string>();
  // Shared definitions are reached from several places; each problem is reported once.
  const report = (path: string, rule: LintRule, message: string) => {
    const key = `${path}\n${rule}\n${message}`;
    if (reported.has(key)) return;
    reported.add(key);
    problems.push({ path, rule, message });
  };
  if (!isRecord(definition)) {
    report('', 'swagger-version', 'The definition must be a JSON object.');
    return problems;
  }
  const size =
    fileBytes === undefined
      ? Buffer.byteLength(serializeDefinition(definition))
      : typeof fileBytes === 'string'
        ? Buffer.byteLength(fileBytes)
        : fileBytes.byteLength;
  if (size > MAX_DEFINITION_BYTES)
    report('', 'file-size', `The file is ${size} bytes; a connector definition may have at most 1 MB (1048576).`);
  if (definition.swagger !== '2.0') report('swagger', 'swagger-version', 'swagger must be "2.0".');
  lintInfo(definition, report);
  lintMetadata(definition, report);

  const lookup = (schema: unknown) => resolve(definition, schema);
  const operationIds = new Map<string, string>();
  const operationsById = new Map<string, Json>();
  const paths = isRecord(definition.paths) ? definition.paths : {};
  if (!isRecord(definition.paths)) report('paths', 'paths', 'The definition must have paths.');
  let triggers = 0;
  const bodies = new Set<unknown>();
  for (const [pathName, pathItem] of Object.entries(paths)) {
    if (!isRecord(pathItem)) continue;
    const itemPath = `paths[${JSON.stringify(pathName)}]`;
    for (const [method, op] of Object.entries(pathItem)) {
      if (!METHODS.includes(method) || !isRecord(op)) continue;
      const at = `${itemPath}.${method}`;
      lintOperation(op, at, pathName, report, lookup);
      for (const parameter of Array.isArray(op.parameters) ? op.parameters : [])
        if (isRecord(parameter) && parameter.in === 'body' && isRecord(parameter.schema))
          bodies.add(parameter.schema.$ref);
      const id = op.operationId;
      if (typeof id === 'string') {
        const first = operationIds.get(id);
        if (first) report(`${at}.operationId`, 'operation-id-unique', `operationId ${id} is also used by ${first}.`);
        else {
          operationIds.set(id, at);
          operationsById.set(id, op);
        }
      }
      if (op['x-ms-trigger'] !== undefined) {
        triggers++;
        lintTrigger(op, at, method, pathItem, itemPath, report, lookup);
      }
    }
  }
  if (triggers === 0)
    report('paths', 'trigger-present', 'No operation has x-ms-trigger: the webhook trigger is missing.');

  // Dropdowns must be fed by an operation that exists.
  walk(definition, '', (node, path) => {
    const dynamic = node['x-ms-dynamic-values'];
    if (dynamic === undefined) return;
    if (!isRecord(dynamic) || typeof dynamic.operationId !== 'string' || !operationIds.has(dynamic.operationId)) {
      report(
        `${path}.x-ms-dynamic-values`,
        'dynamic-values',
        'x-ms-dynamic-values must name an operationId of this definition.',
      );
    } else if (typeof dynamic['value-collection'] !== 'string' || typeof dynamic['value-path'] !== 'string') {
      report(
        `${path}.x-ms-dynamic-values`,
        'dynamic-values',
        'x-ms-dynamic-values must set value-collection and value-path.',
      );
    }
  });

  // Typed fields and outputs must be asked of an operation that exists, with parameters and values it takes.
  walk(definition, '', (node, path) => {
    for (const [extension, valuePath] of [
      ['x-ms-dynamic-schema', 'value-path'],
      ['x-ms-dynamic-properties', 'itemValuePath'],
    ] as const) {
      if (node[extension] !== undefined)
        lintDynamicSchema(node[extension], `${path}.${extension}`, valuePath, operationsById, report);
    }
  });

  // Every property a maker can see (response fields, delivered payload) needs a name and a tooltip. Request bodies
  // were judged with their operation, by the stricter body rules.
  if (isRecord(definition.definitions)) {
    for (const [name, schema] of Object.entries(definition.definitions))
      if (!bodies.has(`#/definitions/${name}`))
        lintSchemaProperties(schema, `definitions.${name}`, report, lookup, false);
  }
  return problems;
}

type Report = (path: string, rule: LintRule, message: string) => void;

/** One `x-ms-dynamic-schema` / `x-ms-dynamic-properties`: its operation, its value path, and what it passes. */
function lintDynamicSchema(
  dynamic: unknown,
  at: string,
  valuePath: 'value-path' | 'itemValuePath',
  operationsById: Map<string, Json>,
  report: Report,
): void {
  const target =
    isRecord(dynamic) && typeof dynamic.operationId === 'string' ? operationsById.get(dynamic.operationId) : undefined;
  if (!isRecord(dynamic) || !target) {
    report(at, 'dynamic-schema', 'The dynamic schema must name an operationId of this definition.');
    return;
  }
  if (typeof dynamic[valuePath] !== 'string')
    report(at, 'dynamic-schema', `The dynamic schema must set ${valuePath}: where the schema is in the answer.`);
  const declared = new Map(
    (Array.isArray(target.parameters) ? target.parameters : [])
      .filter(isRecord)
      .map((parameter) => [String(parameter.name), parameter] as const),
  );
  for (const [name, given] of Object.entries(isRecord(dynamic.parameters) ? dynamic.parameters : {})) {
    const parameter = declared.get(name);
    if (!parameter && !name.startsWith('body/')) {
      report(at, 'dynamic-schema', `${dynamic.operationId} has no parameter ${name}.`);
      continue;
    }
    const value = isRecord(given) ? given.value : given;
    if (parameter && value !== undefined && Array.isArray(parameter.enum) && !parameter.enum.includes(value))
      report(at, 'dynamic-schema', `${dynamic.operationId} does not take ${JSON.stringify(value)} for ${name}.`);
  }
}
type Lookup = (schema: unknown) => Json | undefined;

function lintInfo(definition: Json, report: Report): void {
  const info = isRecord(definition.info) ? definition.info : undefined;
  if (!info) {
    report('info', 'info-title', 'The definition must have info with a title.');
    report('info', 'info-contact', 'info.contact must name the publisher and give a URL or an email.');
    return;
  }
  const title = info.title;
  if (typeof title !== 'string' || title.trim() === '') {
    report('info.title', 'info-title', 'info.title is required: the connector name makers see.');
  } else {
    if (title.length > 30)
      report('info.title', 'info-title', `The title is ${title.length} characters; at most 30 are allowed.`);
    if (/\b(api|connector)\b/i.test(title))
      report('info.title', 'info-title', 'The title must not contain "API" or "Connector".');
  }
  if (typeof info.description !== 'string' || info.description.trim() === '')
    report('info.description', 'info-description', 'info.description is required: what the connector does.');
  else if (/\bapi\b/i.test(info.description))
    report('info.description', 'info-description', 'The connector description must not contain "API".');
  const contact = info.contact;
  const reachable =
    isRecord(contact) &&
    typeof contact.name === 'string' &&
    contact.name !== '' &&
    ((typeof contact.url === 'string' && contact.url !== '') ||
      (typeof contact.email === 'string' && contact.email !== ''));
  if (!reachable)
    report('info.contact', 'info-contact', 'info.contact must name the publisher and give a URL or an email.');
}

function lintMetadata(definition: Json, report: Report): void {
  const metadata = definition['x-ms-connector-metadata'];
  if (!Array.isArray(metadata)) {
    report(
      'x-ms-connector-metadata',
      'connector-metadata',
      'x-ms-connector-metadata is required: Website, Privacy policy and Categories.',
    );
    return;
  }
  const names = new Set(
    metadata.filter(isRecord).map((entry) => (typeof entry.propertyName === 'string' ? entry.propertyName : '')),
  );
  for (const name of REQUIRED_METADATA) {
    const present = [...names].some((candidate) => candidate.toLowerCase() === name.toLowerCase());
    if (!present)
      report('x-ms-connector-metadata', 'connector-metadata', `x-ms-connector-metadata must have a "${name}" entry.`);
  }
}

function lintOperation(op: Json, at: string, pathName: string, report: Report, lookup: Lookup): void {
  const id = op.operationId;
  if (typeof id !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(id))
    report(`${at}.operationId`, 'operation-id', 'operationId must be PascalCase: letters and digits, first upper.');
  const summary = op.summary;
  if (typeof summary !== 'string' || summary.trim() === '') {
    report(`${at}.summary`, 'operation-summary', 'Every operation needs a summary: its name in the designer.');
  } else {
    if (summary.length > 80)
      report(`${at}.summary`, 'operation-summary', `The summary is ${summary.length} characters; at most 80.`);
    if (summary.includes('/')) report(`${at}.summary`, 'operation-summary', 'The summary must not contain "/".');
    if (!/[A-Za-z0-9]$/.test(summary))
      report(`${at}.summary`, 'operation-summary', 'The summary must end with a letter or digit, not punctuation.');
  }
  lintDescription(op.description, summary, `${at}.description`, 'operation-description', report);
  lintVisibility(op['x-ms-visibility'], `${at}.x-ms-visibility`, 'operation-visibility', report);

  const parameters = Array.isArray(op.parameters) ? op.parameters : [];
  const pathNames = new Set([...pathName.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]));
  const declared = new Set<string>();
  parameters.forEach((parameter, index) => {
    const paramAt = `${at}.parameters[${index}]`;
    if (!isRecord(parameter)) return;
    const param = parameter.$ref === undefined ? parameter : lookup(parameter);
    if (!param) return;
    lintLabel(param, paramAt, 'parameter', report);
    lintVisibility(param['x-ms-visibility'], `${paramAt}.x-ms-visibility`, 'parameter-visibility', report);
    lintInternalRequired(param, paramAt, report);
    if (param.in === 'path') {
      declared.add(String(param.name));
      if (param.required !== true)
        report(`${paramAt}.required`, 'path-parameter', `Path parameter ${param.name} must be required: true.`);
      if (param['x-ms-url-encoding'] !== 'single')
        report(
          `${paramAt}.x-ms-url-encoding`,
          'path-parameter',
          `Path parameter ${param.name} must set x-ms-url-encoding: single.`,
        );
    }
    if (param.in === 'body') lintBody(param.schema, `${paramAt}.schema`, report, lookup);
  });
  for (const name of pathNames) {
    if (!declared.has(name as string))
      report(`${at}.parameters`, 'path-parameter', `{${name}} in the path has no path parameter.`);
  }

  const responses = isRecord(op.responses) ? op.responses : {};
  const success = Object.entries(responses).filter(([status]) => /^2\d\d$/.test(status));
  if (success.length === 0)
    report(`${at}.responses`, 'response-success', 'Every operation needs a 2xx response with a schema.');
  for (const [status, response] of success) {
    if (!isRecord(response) || response.schema === undefined)
      report(`${at}.responses.${status}`, 'response-success', `The ${status} response needs a schema.`);
  }
  const fallback = responses.default;
  if (isRecord(fallback) && fallback.schema !== undefined)
    report(`${at}.responses.default`, 'response-default', 'The default response must not have a schema.');

  const pageable = op['x-ms-pageable'];
  if (pageable !== undefined) {
    const nextLinkName = isRecord(pageable) ? pageable.nextLinkName : undefined;
    const body = success[0] && isRecord(success[0][1]) ? lookup(success[0][1].schema) : undefined;
    const properties = body && isRecord(body.properties) ? body.properties : {};
    if (typeof nextLinkName !== 'string' || !(nextLinkName in properties) || !('value' in properties))
      report(
        `${at}.x-ms-pageable`,
        'pageable',
        'x-ms-pageable.nextLinkName must name a property of the 2xx body, next to a value array.',
      );
  }
}

function lintTrigger(
  op: Json,
  at: string,
  method: string,
  pathItem: Json,
  itemPath: string,
  report: Report,
  lookup: Lookup,
): void {
  if (op['x-ms-trigger'] !== 'single' && op['x-ms-trigger'] !== 'batch')
    report(`${at}.x-ms-trigger`, 'trigger', 'x-ms-trigger must be "single" or "batch".');
  if (method !== 'post') report(at, 'trigger', 'A webhook trigger subscribes with POST.');
  const parameters = Array.isArray(op.parameters) ? op.parameters.filter(isRecord) : [];
  const body = parameters.find((parameter) => parameter.in === 'body');
  const schema = body ? lookup(body.schema) : undefined;
  const properties = schema && isRecord(schema.properties) ? schema.properties : {};
  const url = Object.entries(properties).find(
    ([, property]) => isRecord(property) && property['x-ms-notification-url'] === true,
  );
  if (!url) {
    report(
      `${at}.parameters`,
      'trigger-notification-url',
      'The trigger body needs a property with x-ms-notification-url: true (the callback URL).',
    );
  } else {
    const [name, property] = url as [string, Json];
    const required = Array.isArray(schema?.required) && schema.required.includes(name);
    if (!required)
      report(`${at}.parameters`, 'trigger-notification-url', `The notification URL ${name} must be required.`);
    if (property['x-ms-visibility'] !== 'internal')
      report(
        `${at}.parameters`,
        'trigger-notification-url',
        `The notification URL ${name} must be x-ms-visibility: internal (the platform fills it in).`,
      );
  }
  const created = isRecord(op.responses) ? op.responses['201'] : undefined;
  const location = isRecord(created) && isRecord(created.headers) ? created.headers.Location : undefined;
  if (!isRecord(location))
    report(
      `${at}.responses`,
      'trigger-location',
      'The trigger must answer 201 with a Location header: the URL that deletes the subscription.',
    );
  const content = pathItem['x-ms-notification-content'];
  if (!isRecord(content) || content.schema === undefined)
    report(
      `${itemPath}.x-ms-notification-content`,
      'trigger-notification-content',
      'The trigger path needs x-ms-notification-content with the schema of what is delivered.',
    );
  else lintSchemaProperties(content.schema, `${itemPath}.x-ms-notification-content.schema`, report, lookup, false);
}

/** The body of an operation: every property a maker fills in needs a name, a tooltip and a visibility. */
function lintBody(schema: unknown, at: string, report: Report, lookup: Lookup): void {
  lintSchemaProperties(schema, at, report, lookup, true);
}

function lintSchemaProperties(
  schema: unknown,
  at: string,
  report: Report,
  lookup: Lookup,
  input: boolean,
  seen = new Set<unknown>(),
): void {
  const resolved = lookup(schema);
  if (!resolved || seen.has(resolved)) return;
  seen.add(resolved);
  const where = isRecord(schema) && typeof schema.$ref === 'string' ? refPath(schema.$ref) : at;
  if (isRecord(resolved.items)) lintSchemaProperties(resolved.items, `${where}.items`, report, lookup, input, seen);
  if (!isRecord(resolved.properties)) return;
  const required = Array.isArray(resolved.required) ? resolved.required : [];
  for (const [name, property] of Object.entries(resolved.properties)) {
    if (!isRecord(property)) continue;
    const propertyAt = `${where}.properties.${name}`;
    if (property.$ref === undefined) {
      lintLabel(property, propertyAt, input ? 'body-property' : 'schema-property', report);
      if (input) {
        lintVisibility(
          property['x-ms-visibility'],
          `${propertyAt}.x-ms-visibility`,
          'body-property-visibility',
          report,
        );
        if (property['x-ms-notification-url'] !== true)
          lintInternalRequired({ ...property, required: required.includes(name) }, propertyAt, report);
      }
    }
    lintSchemaProperties(property, propertyAt, report, lookup, input, seen);
  }
}

/** `x-ms-summary` (the label) and `description` (the tooltip: a sentence, not the label again). */
function lintLabel(node: Json, at: string, kind: 'parameter' | 'body-property' | 'schema-property', report: Report) {
  const summary = node['x-ms-summary'];
  if (typeof summary !== 'string' || summary.trim() === '')
    report(`${at}.x-ms-summary`, `${kind}-summary`, 'x-ms-summary is required: the name makers see.');
  lintDescription(node.description, summary, `${at}.description`, `${kind}-description`, report);
}

function lintDescription(description: unknown, summary: unknown, at: string, rule: LintRule, report: Report): void {
  if (typeof description !== 'string' || description.trim() === '') {
    report(at, rule, 'A description is required.');
    return;
  }
  if (!description.endsWith('.')) report(at, rule, 'The description must end with a period.');
  if (typeof summary === 'string' && normalize(description) === normalize(summary))
    report(at, rule, 'The description must say more than the summary, not repeat it.');
}

function lintVisibility(visibility: unknown, at: string, rule: LintRule, report: Report): void {
  if (typeof visibility !== 'string' || !VISIBILITIES.includes(visibility))
    report(at, rule, 'x-ms-visibility must be set deliberately: important, advanced or internal.');
}

// The designer hides internal fields, so a required one must come with the value to send.
function lintInternalRequired(node: Json, at: string, report: Report): void {
  if (node['x-ms-visibility'] === 'internal' && node.required === true && node.default === undefined)
    report(at, 'internal-required-default', 'A required internal field needs a default: makers cannot fill it in.');
}

/** Follows `$ref: '#/definitions/…'` (and `#/parameters/…`); undefined when it does not resolve. */
function resolve(definition: Json, node: unknown, depth = 0): Json | undefined {
  if (!isRecord(node) || depth > 20) return undefined;
  if (typeof node.$ref !== 'string') return node;
  const match = /^#\/(definitions|parameters)\/(.+)$/.exec(node.$ref);
  const container = match ? definition[match[1] as string] : undefined;
  const target = isRecord(container) ? container[match?.[2] as string] : undefined;
  return resolve(definition, target, depth + 1);
}

function refPath(ref: string): string {
  return ref.replace(/^#\//, '').replaceAll('/', '.');
}

function walk(node: unknown, path: string, visit: (node: Json, path: string) => void): void {
  if (Array.isArray(node)) {
    node.forEach((item, index) => {
      walk(item, `${path}[${index}]`, visit);
    });
  } else if (isRecord(node)) {
    visit(node, path);
    for (const [key, value] of Object.entries(node)) {
      const next = /^[A-Za-z_$][\w$-]*$/.test(key)
        ? `${path}${path ? '.' : ''}${key}`
        : `${path}[${JSON.stringify(key)}]`;
      walk(value, next, visit);
    }
  }
}

function normalize(text: string): string {
  return text
    .trim()
    .replace(/[.\s]+$/, '')
    .toLowerCase();
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
