/**
 * The Power Platform custom connector definition (Swagger 2.0), generated from the operation declarations and the
 * schemas. `connector/apiDefinition.swagger.json` is this output, committed; a test and `dataverse-bridge connector
 * --check` compare the two byte for byte.
 */
import { type OperationDeclaration, operations } from './operations.js';
import { definitions, ref, type Schema } from './schemas.js';

/** The connector's name in the designer: at most 30 characters, without "API" or "Connector". */
export const CONNECTOR_TITLE = 'Dataverse Bridge';
/** The version of the connector contract (not of the app): bump it when operations or shapes change. */
export const CONNECTOR_VERSION = '1.0.0';
/** What the committed file carries; replace it with the Function App's host name when importing. */
export const PLACEHOLDER_HOST = 'your-app.azurewebsites.net';

const DESCRIPTION =
  'Reads the execution contexts Microsoft Dataverse posts to Azure, publishes them as clean events, and lets flows ' +
  'query recent changes, publish events, follow processing jobs and start when a row changes.';

// Where makers and certification reviewers reach the publisher. The example.com addresses are placeholders for the
// deployment's own pages (see connector/README.md), kept in one place.
const PUBLISHER = {
  name: 'Dataverse Bridge maintainers',
  url: 'https://example.com/dataverse-bridge',
  email: 'dataverse-bridge@example.com',
  privacy: 'https://example.com/dataverse-bridge/privacy',
};

/** The Swagger 2.0 document, as far as this module writes it (the lint reads it as plain JSON). */
export interface SwaggerDefinition {
  swagger: '2.0';
  info: {
    title: string;
    description: string;
    version: string;
    contact: { name: string; url: string; email: string };
  };
  host: string;
  basePath: string;
  schemes: string[];
  consumes: string[];
  produces: string[];
  paths: Record<string, Record<string, unknown>>;
  definitions: Record<string, Schema>;
  securityDefinitions: Record<string, { type: 'apiKey'; in: 'header'; name: string }>;
  security: Record<string, string[]>[];
  'x-ms-connector-metadata': { propertyName: string; propertyValue: string }[];
}

/**
 * Builds the definition. The output is deterministic (the same options give the same bytes), paths follow the
 * declaration order, and nothing in it is shared with the declarations (callers may change it freely).
 *
 * @example
 * const definition = buildDefinition({ host: 'contoso-bridge.azurewebsites.net' });
 * definition.paths['/tables/{table}/changes']?.get; // the ListChanges operation
 */
export function buildDefinition(options: { host?: string; version?: string } = {}): SwaggerDefinition {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = swaggerPath(op.route);
    paths[path] = { ...paths[path], [op.method.toLowerCase()]: operationObject(op) };
  }
  // The path-level extension goes after the path's operations.
  for (const op of operations)
    if (op.notification)
      (paths[swaggerPath(op.route)] as Record<string, unknown>)['x-ms-notification-content'] = op.notification;
  const definition: SwaggerDefinition = {
    swagger: '2.0',
    info: {
      title: CONNECTOR_TITLE,
      description: DESCRIPTION,
      version: options.version ?? CONNECTOR_VERSION,
      contact: { name: PUBLISHER.name, url: PUBLISHER.url, email: PUBLISHER.email },
    },
    host: options.host ?? PLACEHOLDER_HOST,
    basePath: '/api',
    schemes: ['https'],
    consumes: ['application/json'],
    produces: ['application/json'],
    paths,
    definitions,
    securityDefinitions: { api_key: { type: 'apiKey', in: 'header', name: 'x-functions-key' } },
    security: [{ api_key: [] }],
    'x-ms-connector-metadata': [
      { propertyName: 'Website', propertyValue: PUBLISHER.url },
      { propertyName: 'Privacy policy', propertyValue: PUBLISHER.privacy },
      { propertyName: 'Categories', propertyValue: 'Data;IT Operations' },
    ],
  };
  return structuredClone(definition);
}

/** The repository formatter's line width (biome.json). */
const LINE_WIDTH = 120;

/**
 * The bytes of the committed file: `JSON.stringify(definition, null, 2)` with a final newline, except that an array
 * of plain values sits on one line when that line fits in 120 columns. That is exactly how Biome (the repository's
 * formatter, which checks every JSON file) prints it, so `biome check` accepts the generated file as it is and
 * `npm run format` never rewrites it.
 *
 * @example
 * await writeFile('connector/apiDefinition.swagger.json', serializeDefinition(buildDefinition()));
 */
export function serializeDefinition(definition: unknown): string {
  return `${format(definition, '', 0)}\n`;
}

/** `value` printed at `indent`, on a line that already holds `lead` columns and ends with `tail` more. */
function format(value: unknown, indent: string, lead: number, tail = 0): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((item) => item === null || typeof item !== 'object')) {
      const line = `[${value.map((item) => JSON.stringify(item)).join(', ')}]`;
      if (lead + line.length + tail <= LINE_WIDTH) return line;
    }
    const items = value.map(
      (item, index) => inner + format(item, inner, inner.length, index < value.length - 1 ? 1 : 0),
    );
    return `[\n${items.join(',\n')}\n${indent}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    if (entries.length === 0) return '{}';
    const lines = entries.map(([key, item], index) => {
      const prefix = `${inner}${JSON.stringify(key)}: `;
      return prefix + format(item, inner, prefix.length, index < entries.length - 1 ? 1 : 0);
    });
    return `{\n${lines.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** A Functions route as a Swagger path: `tables/{table}/rows/{id:guid}` → `/tables/{table}/rows/{id}`. */
export function swaggerPath(route: string): string {
  return `/${route.replace(/\{\*?([A-Za-z_]\w*)(?::[a-z]+)?\??\}/g, '{$1}')}`;
}

function operationObject(op: OperationDeclaration): Record<string, unknown> {
  const parameters: unknown[] = [...op.parameters];
  if (op.body) {
    parameters.push({
      name: 'body',
      in: 'body',
      required: true,
      schema: ref(op.body.definition),
      description: op.body.description,
      'x-ms-summary': op.body.summary,
      'x-ms-visibility': 'important',
    });
  }
  return {
    summary: op.summary,
    description: op.description,
    operationId: op.operationId,
    'x-ms-visibility': op.visibility,
    ...(op.trigger ? { 'x-ms-trigger': op.trigger } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    responses: op.responses,
    ...(op.pageable ? { 'x-ms-pageable': { nextLinkName: 'nextLink' } } : {}),
    // Anonymous endpoints need no function key; saying so keeps generic clients from asking for one.
    ...(op.authLevel === 'anonymous' ? { security: [] } : {}),
  };
}
