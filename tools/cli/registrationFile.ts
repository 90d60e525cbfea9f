import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import { findNodeAtLocation, type Node, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';

/** The registration file (`docs/registration.schema.json` describes it; `samples/registration.json` is an example). */
export interface Registration {
  endpoint: EndpointSpec;
  steps: StepSpec[];
}

export interface EndpointSpec {
  name: string;
  description?: string;
  transport: 'queue' | 'topic' | 'webhook';
  namespace?: string;
  path?: string;
  sasKeyName?: string;
  url?: string;
}

export interface StepSpec {
  table: string;
  message: string;
  stage?: 'preValidation' | 'preOperation' | 'postOperation';
  mode?: 'async' | 'sync';
  filteringAttributes?: string[];
  preImage?: string[];
  postImage?: string[];
}

/** A path into the file, e.g. `['steps', 0, 'postImage', 1]`. */
export type JsonPath = Array<string | number>;

/** A mistake in the registration file, with the line to change. */
export class RegistrationFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'RegistrationFileError';
  }
}

/** A read registration file: its content, and where each of its values sits. */
export interface RegistrationSource {
  file: string;
  registration: Registration;
  /** The error for a value of the file, naming its line (the nearest enclosing value that exists). */
  errorAt(path: JsonPath, message: string): RegistrationFileError;
}

/** Where the published schema lives, found from this module up to the package root (works from `dist/` and source). */
export function schemaPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'docs', 'registration.schema.json');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('docs/registration.schema.json was not found next to the package.');
    dir = parent;
  }
}

/**
 * Reads and checks a registration file against its JSON Schema. Every error names the file's line; all are reported
 * at once as one `RegistrationFileError[]` thrown.
 */
export function readRegistrationFile(file: string): RegistrationSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (error) {
    throw [new RegistrationFileError(file, 0, `cannot read the file (${(error as NodeJS.ErrnoException).code})`)];
  }
  const lineOf = (offset: number) => text.slice(0, offset).split('\n').length;
  const parseErrors: ParseError[] = [];
  const root = parseTree(text, parseErrors, { allowTrailingComma: false, disallowComments: true });
  if (parseErrors.length > 0 || !root) {
    throw parseErrors.map(
      (e) => new RegistrationFileError(file, lineOf(e.offset), `not valid JSON: ${printParseErrorCode(e.error)}`),
    );
  }
  const errorAt = (path: JsonPath, message: string) => {
    let node: Node | undefined;
    for (let depth = path.length; depth >= 0 && !node; depth--) node = findNodeAtLocation(root, path.slice(0, depth));
    // A property's line is its name's line: that is where an editor puts the cursor.
    const at = node?.parent?.type === 'property' ? node.parent : node;
    return new RegistrationFileError(file, lineOf(at?.offset ?? 0), message);
  };
  const value = JSON.parse(text) as unknown;
  const validate = compileSchema();
  if (!validate(value)) {
    throw (validate.errors ?? []).filter(relevant).map((e) => errorAt(pathOf(e), describe(e)));
  }
  return { file, registration: value as Registration, errorAt };
}

let compiled: (((value: unknown) => boolean) & { errors?: ErrorObject[] | null }) | undefined;

function compileSchema() {
  if (compiled) return compiled;
  // ajv is CommonJS; a require keeps this synchronous.
  const require = createRequire(import.meta.url);
  const { Ajv } = require('ajv') as typeof import('ajv');
  const schema = JSON.parse(readFileSync(schemaPath(), 'utf8')) as Record<string, unknown>;
  compiled = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(schema);
  return compiled;
}

/** `if`/`then` wrappers repeat what their inner errors say. */
function relevant(error: ErrorObject): boolean {
  return error.keyword !== 'if';
}

function pathOf(error: ErrorObject): JsonPath {
  const path: JsonPath = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  if (error.keyword === 'additionalProperties')
    path.push((error.params as { additionalProperty: string }).additionalProperty);
  return path;
}

function describe(error: ErrorObject): string {
  const where = error.instancePath === '' ? 'the file' : error.instancePath.slice(1).replace(/\//g, '.');
  switch (error.keyword) {
    case 'additionalProperties':
      return `${where}: unknown property "${(error.params as { additionalProperty: string }).additionalProperty}" (see docs/registration.schema.json)`;
    case 'required':
      return `${where}: "${(error.params as { missingProperty: string }).missingProperty}" is required`;
    case 'enum':
      return `${where}: must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'not':
      return `${where}: a webhook endpoint takes "url" only; a queue or topic endpoint takes "namespace", "path" and "sasKeyName", not "url"`;
    default:
      return `${where}: ${error.message ?? 'is not valid'}`;
  }
}
