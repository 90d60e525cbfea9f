/**
 * Reads a compiled ARM template (what `bicep build` writes to .infra-build/) the way Azure Resource Manager would
 * deploy it, as far as that can be known before deployment: template expressions are evaluated with the parameter
 * values given (or the defaults), modules (nested deployments) with the parameters their parent passes, and each
 * `reference()` to a module returns that module's evaluated outputs. What only exists once deployed (a principal id,
 * an endpoint Azure assigns, a connection string) is an {@link Unknown} that says which resource and property it is.
 *
 * Follows the template syntax and functions as Microsoft documents them:
 * https://learn.microsoft.com/azure/azure-resource-manager/templates/syntax,
 * https://learn.microsoft.com/azure/azure-resource-manager/templates/template-expressions,
 * https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions (resourceId, extensionResourceId,
 * subscriptionResourceId: .../template-functions-resource; format, split, replace, take: .../template-functions-string),
 * and languageVersion 2.0's symbolic names: https://learn.microsoft.com/azure/azure-resource-manager/templates/syntax#languageversion-20
 * Only the functions the templates use are here; any other throws, naming it.
 */
import { createHash } from 'node:crypto';

/** Where a value known only after deployment comes from: a resource id and the property path read from it. */
export interface DeployedRef {
  id: string;
  path: string[];
}

/** A value known only after deployment. `derived` when a function was applied to it (then `refs` are its inputs). */
export class Unknown {
  constructor(
    readonly refs: DeployedRef[],
    readonly derived: boolean,
  ) {}
  /** The property this value is, when it is one property of one deployed resource. */
  get ref(): DeployedRef | undefined {
    return !this.derived && this.refs.length === 1 ? this.refs[0] : undefined;
  }
}

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value } | Unknown;

interface Template {
  languageVersion?: string;
  parameters?: Record<string, { type: string; defaultValue?: unknown }>;
  variables?: Record<string, unknown>;
  resources: Record<string, RawResource> | RawResource[];
  outputs?: Record<string, { type: string; value: unknown }>;
}

interface RawResource {
  type: string;
  apiVersion: string;
  name: string;
  existing?: boolean;
  condition?: unknown;
  scope?: unknown;
  resourceGroup?: string;
  copy?: { name: string; count: unknown };
  properties?: Record<string, unknown> & { template?: Template; parameters?: Record<string, unknown> };
  [key: string]: unknown;
}

/** Where a template is deployed. */
export interface DeploymentScope {
  subscriptionId: string;
  tenantId: string;
  /** Absent for a subscription-scope deployment. */
  resourceGroup?: string;
}

/** One resource of a template, every expression in it evaluated. */
export interface DeployedResource {
  /** The symbolic name (languageVersion 2.0) or the index in the resources array. */
  key: string;
  type: string;
  apiVersion: string;
  name: string;
  /** The resource id it will have. */
  id: string;
  existing: boolean;
  /** False when its condition is false: it would not be deployed. */
  deployed: boolean;
  /** The evaluated resource: every property as Azure would receive it (except a module's inner template). */
  body: Record<string, Value>;
}

/** The name of a resource whose name is known only after deployment (a role assignment named after a principal id). */
export const UNKNOWN_NAME = '<known after deployment>';

type Node =
  | { kind: 'literal'; value: Value }
  | { kind: 'call'; name: string; args: Node[] }
  | { kind: 'property'; target: Node; name: string }
  | { kind: 'index'; target: Node; index: Node };

/** Parses one template expression (the text inside `[…]`). */
export function parseExpression(text: string): Node {
  let at = 0;
  const fail = (what: string): never => {
    throw new Error(`ARM expression: ${what} at ${at} in [${text}]`);
  };
  const skip = () => {
    while (/\s/.test(text[at] ?? '')) at++;
  };
  const expect = (char: string) => {
    skip();
    if (text[at] !== char) fail(`expected "${char}"`);
    at++;
  };
  const primary = (): Node => {
    skip();
    const char = text[at];
    if (char === "'") {
      let value = '';
      at++;
      for (;;) {
        if (at >= text.length) fail('unterminated string');
        if (text[at] === "'") {
          if (text[at + 1] === "'") {
            value += "'";
            at += 2;
            continue;
          }
          at++;
          return { kind: 'literal', value };
        }
        value += text[at++];
      }
    }
    const number = /^-?\d+/.exec(text.slice(at));
    if (number) {
      at += number[0].length;
      return { kind: 'literal', value: Number(number[0]) };
    }
    const name = /^[A-Za-z_][\w.]*/.exec(text.slice(at))?.[0] ?? fail('expected a function name');
    at += name.length;
    skip();
    if (text[at] !== '(') {
      if (name === 'true' || name === 'false') return { kind: 'literal', value: name === 'true' };
      if (name === 'null') return { kind: 'literal', value: null };
      fail(`expected "(" after ${name}`);
    }
    at++;
    const args: Node[] = [];
    skip();
    if (text[at] === ')') at++;
    else {
      for (;;) {
        args.push(expression());
        skip();
        if (text[at] === ',') at++;
        else break;
      }
      expect(')');
    }
    return { kind: 'call', name, args };
  };
  const expression = (): Node => {
    let node = primary();
    for (;;) {
      skip();
      if (text[at] === '.') {
        at++;
        skip();
        const name = /^[A-Za-z_$][\w$]*/.exec(text.slice(at))?.[0] ?? fail('expected a property name');
        at += name.length;
        node = { kind: 'property', target: node, name };
      } else if (text[at] === '[') {
        at++;
        const index = expression();
        expect(']');
        node = { kind: 'index', target: node, index };
      } else return node;
    }
  };
  const node = expression();
  skip();
  if (at !== text.length) fail('unexpected text');
  return node;
}

const isObject = (value: unknown): value is Record<string, Value> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Unknown);

/** A template deployed (in thought) at a scope with parameter values. */
export class ArmDeployment {
  readonly #template: Template;
  readonly #parameters: Record<string, Value>;
  readonly #variables = new Map<string, Value>();
  readonly #modules = new Map<string, ArmDeployment>();
  readonly #raw: Array<[string, RawResource]>;
  #copyIndex: number | undefined;

  constructor(
    template: unknown,
    parameters: Record<string, Value>,
    readonly scope: DeploymentScope,
  ) {
    this.#template = template as Template;
    const declared = this.#template.parameters ?? {};
    const unknownParameter = Object.keys(parameters).find((name) => !(name in declared));
    if (unknownParameter) throw new Error(`The template has no parameter ${unknownParameter}`);
    this.#parameters = { ...parameters };
    for (const [name, declaration] of Object.entries(declared)) {
      if (name in this.#parameters) continue;
      if (declaration.defaultValue === undefined) throw new Error(`Parameter ${name} has no value and no default`);
      this.#parameters[name] = this.evaluate(declaration.defaultValue);
    }
    const resources = this.#template.resources;
    this.#raw = Array.isArray(resources) ? resources.map((r, i) => [String(i), r]) : Object.entries(resources);
  }

  /** The value a parameter has in this deployment (given, or its default). */
  parameter(name: string): Value {
    if (!(name in this.#parameters)) throw new Error(`The template has no parameter ${name}`);
    return this.#parameters[name] as Value;
  }

  /** Every resource (copies expanded), evaluated. Nested deployments keep their inner template unevaluated. */
  resources(): DeployedResource[] {
    return this.#raw.flatMap(([key, raw]) => {
      if (raw.copy === undefined) return [this.#deployed(key, raw)];
      const count = this.evaluate(raw.copy.count);
      if (typeof count !== 'number') throw new Error(`Copy count of ${key} is not a number`);
      return Array.from({ length: count }, (_, index) => {
        this.#copyIndex = index;
        try {
          return this.#deployed(`${key}[${index}]`, raw);
        } finally {
          this.#copyIndex = undefined;
        }
      });
    });
  }

  /** The nested deployment (Bicep module) with this deployment name, with the parameters this template passes it. */
  module(name: string): ArmDeployment {
    const cached = this.#modules.get(name);
    if (cached) return cached;
    const entry = this.#raw.find(
      ([, raw]) => raw.type === 'Microsoft.Resources/deployments' && this.evaluate(raw.name) === name,
    );
    if (entry === undefined) throw new Error(`No module (nested deployment) named ${name}`);
    const raw = entry[1];
    const inner = raw.properties?.template;
    if (inner === undefined) throw new Error(`Deployment ${name} has no inner template`);
    // Each parameter is `{ value }`, or an expression that yields one (Bicep compiles `cond ? a : b` that way).
    const parameters = Object.fromEntries(
      Object.entries(raw.properties?.parameters ?? {}).map(([key, entry]) => {
        const evaluated = this.evaluate(entry);
        if (!isObject(evaluated) || !('value' in evaluated))
          throw new Error(`Parameter ${key} of ${name} has no value`);
        return [key, evaluated.value as Value];
      }),
    );
    const resourceGroup = raw.resourceGroup === undefined ? this.scope.resourceGroup : this.evaluate(raw.resourceGroup);
    if (resourceGroup !== undefined && typeof resourceGroup !== 'string') {
      throw new Error(`The resource group of ${name} is not known before deployment`);
    }
    const module = new ArmDeployment(inner, parameters, {
      ...this.scope,
      ...(resourceGroup === undefined ? {} : { resourceGroup }),
    });
    this.#modules.set(name, module);
    return module;
  }

  /** Every output, evaluated. */
  outputs(): Record<string, Value> {
    return Object.fromEntries(
      Object.entries(this.#template.outputs ?? {}).map(([name, output]) => [name, this.evaluate(output.value)]),
    );
  }

  /** The declared type of each output (`string`, `securestring`, `object`, …). */
  outputTypes(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.#template.outputs ?? {}).map(([name, o]) => [name, o.type]));
  }

  /** Evaluates a template value: strings in `[…]` are expressions (`[[` escapes a literal `[`), objects and arrays deeply. */
  evaluate(value: unknown): Value {
    if (typeof value === 'string') {
      if (value.startsWith('[[')) return value.slice(1);
      if (value.startsWith('[') && value.endsWith(']')) return this.#eval(parseExpression(value.slice(1, -1)));
      return value;
    }
    if (Array.isArray(value)) return value.map((item) => this.evaluate(item));
    if (typeof value === 'object' && value !== null) {
      const result: Record<string, Value> = {};
      for (const [key, item] of Object.entries(value)) {
        const evaluatedKey = this.evaluate(key);
        result[evaluatedKey instanceof Unknown ? key : String(evaluatedKey)] = this.evaluate(item);
      }
      return result;
    }
    return value as Value;
  }

  #deployed(key: string, raw: RawResource): DeployedResource {
    const { properties, ...rest } = raw;
    const body = this.evaluate(rest) as Record<string, Value>;
    if (properties !== undefined) {
      if (raw.type === 'Microsoft.Resources/deployments') {
        const { template: _inner, ...outer } = properties;
        body.properties = this.evaluate(outer);
      } else body.properties = this.evaluate(properties);
    }
    const condition = raw.condition === undefined ? true : body.condition;
    if (typeof condition !== 'boolean') throw new Error(`The condition of ${key} is not known before deployment`);
    const known = typeof body.name === 'string';
    return {
      key,
      type: raw.type,
      apiVersion: raw.apiVersion,
      name: known ? (body.name as string) : UNKNOWN_NAME,
      id: known ? this.#idOf(raw) : `${raw.type}/${UNKNOWN_NAME}`,
      existing: raw.existing === true,
      deployed: condition,
      body,
    };
  }

  #idOf(raw: RawResource): string {
    const name = this.evaluate(raw.name);
    if (typeof name !== 'string') throw new Error(`The name of a ${raw.type} is not known before deployment`);
    if (raw.type === 'Microsoft.Resources/deployments' && raw.resourceGroup !== undefined) {
      const group = this.evaluate(raw.resourceGroup);
      return `/subscriptions/${this.scope.subscriptionId}/resourceGroups/${group}/providers/${raw.type}/${name}`;
    }
    return this.#resourceId([raw.type, ...name.split('/')]);
  }

  /** resourceId([subscriptionId], [resourceGroup], type, name…) in this deployment's scope. */
  #resourceId(args: Value[]): string {
    const typeAt = args.findIndex((arg) => typeof arg === 'string' && arg.includes('/'));
    const [subscriptionId, resourceGroup] =
      typeAt === 2
        ? [args[0], args[1]]
        : typeAt === 1
          ? [this.scope.subscriptionId, args[0]]
          : [this.scope.subscriptionId, this.scope.resourceGroup];
    const prefix =
      resourceGroup === undefined
        ? `/subscriptions/${subscriptionId}`
        : `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
    return `${prefix}${providerPath(args.slice(typeAt))}`;
  }

  #reference(target: Value, full: boolean): Value {
    // languageVersion 2.0 refers to a resource of the same template by its symbolic name.
    const symbolic = this.#raw.find(([key]) => key === target)?.[1];
    const id = symbolic ? this.#idOf(symbolic) : target;
    if (typeof id !== 'string') return new Unknown(id instanceof Unknown ? id.refs : [], true);
    const module = this.#raw.find(
      ([, raw]) => raw.type === 'Microsoft.Resources/deployments' && this.#idOf(raw) === id,
    )?.[1];
    if (module) {
      const outputs = this.module(String(this.evaluate(module.name))).outputs();
      const wrapped = Object.fromEntries(Object.entries(outputs).map(([name, value]) => [name, { value }]));
      return full ? { properties: { outputs: wrapped } } : { outputs: wrapped };
    }
    return new Unknown([{ id, path: full ? [] : ['properties'] }], false);
  }

  #eval(node: Node): Value {
    switch (node.kind) {
      case 'literal':
        return node.value;
      case 'property': {
        const target = this.#eval(node.target);
        if (target instanceof Unknown) return member(target, node.name);
        if (!isObject(target) || !(node.name in target)) {
          throw new Error(`Property ${node.name} does not exist on ${JSON.stringify(target)}`);
        }
        return target[node.name] as Value;
      }
      case 'index': {
        const target = this.#eval(node.target);
        const index = this.#eval(node.index);
        if (target instanceof Unknown || index instanceof Unknown) return derive(target, index);
        if (Array.isArray(target) && typeof index === 'number') return target[index] as Value;
        if (isObject(target) && typeof index === 'string') return target[index] as Value;
        throw new Error(`Cannot index ${JSON.stringify(target)} with ${JSON.stringify(index)}`);
      }
      case 'call':
        return this.#call(node.name, node.args);
    }
  }

  #call(name: string, argNodes: Node[]): Value {
    const lower = name.toLowerCase();
    // Lazy: only the branch taken is evaluated (ARM does the same), so an unknown in the other does not leak.
    if (lower === 'if') {
      const condition = this.#eval(argNodes[0] as Node);
      if (condition instanceof Unknown) return derive(condition);
      return this.#eval(argNodes[condition ? 1 : 2] as Node);
    }
    const args = argNodes.map((arg) => this.#eval(arg));
    const text = (i: number) => {
      const value = args[i];
      if (typeof value !== 'string') throw new Error(`${name}: argument ${i + 1} is not a string`);
      return value;
    };
    switch (lower) {
      case 'parameters':
        return this.parameter(text(0));
      case 'variables': {
        const variable = text(0);
        if (!this.#variables.has(variable)) {
          const variables = this.#template.variables ?? {};
          if (!(variable in variables)) throw new Error(`The template has no variable ${variable}`);
          this.#variables.set(variable, this.evaluate(variables[variable]));
        }
        return this.#variables.get(variable) as Value;
      }
      case 'reference':
        return this.#reference(args[0] as Value, args[2] === 'full');
      case 'copyindex':
        if (this.#copyIndex === undefined) throw new Error('copyIndex() outside a copy loop');
        return this.#copyIndex + (typeof args[0] === 'number' ? args[0] : 0);
      case 'subscription':
        return {
          id: `/subscriptions/${this.scope.subscriptionId}`,
          subscriptionId: this.scope.subscriptionId,
          tenantId: this.scope.tenantId,
        };
      case 'tenant':
        return { tenantId: this.scope.tenantId };
      case 'resourcegroup':
        if (this.scope.resourceGroup === undefined) throw new Error('resourceGroup() at subscription scope');
        return {
          name: this.scope.resourceGroup,
          id: `/subscriptions/${this.scope.subscriptionId}/resourceGroups/${this.scope.resourceGroup}`,
        };
    }
    if (args.some((arg) => arg instanceof Unknown) && !['createobject', 'union', 'empty'].includes(lower)) {
      return derive(...args);
    }
    switch (lower) {
      case 'resourceid':
        return this.#resourceId(args);
      case 'subscriptionresourceid': {
        const typeAt = args.findIndex((arg) => typeof arg === 'string' && arg.includes('/'));
        const subscriptionId = typeAt === 1 ? text(0) : this.scope.subscriptionId;
        return `/subscriptions/${subscriptionId}${providerPath(args.slice(typeAt))}`;
      }
      case 'extensionresourceid':
        return `${text(0)}${providerPath(args.slice(1))}`;
      case 'format':
        return text(0).replace(/\{(\d+)\}/g, (_, i: string) => stringOf(args[Number(i) + 1] as Value));
      case 'string':
        return stringOf(args[0] as Value);
      case 'tolower':
        return text(0).toLowerCase();
      case 'toupper':
        return text(0).toUpperCase();
      case 'replace':
        return text(0).split(text(1)).join(text(2));
      case 'split':
        return text(0).split(text(1));
      case 'take': {
        const [value, count] = args as [Value, number];
        if (typeof value === 'string' || Array.isArray(value)) return value.slice(0, count);
        throw new Error('take: not a string or array');
      }
      case 'length': {
        const value = args[0] as Value;
        if (typeof value === 'string' || Array.isArray(value)) return value.length;
        if (isObject(value)) return Object.keys(value).length;
        throw new Error('length: not a string, array or object');
      }
      case 'empty': {
        const value = args[0] as Value;
        if (value instanceof Unknown) return derive(value);
        if (value === null) return true;
        if (typeof value === 'string' || Array.isArray(value)) return value.length === 0;
        if (isObject(value)) return Object.keys(value).length === 0;
        throw new Error('empty: not a string, array or object');
      }
      case 'not':
        return !args[0];
      case 'and':
        return args.every(Boolean);
      case 'or':
        return args.some(Boolean);
      case 'equals':
        return JSON.stringify(args[0]) === JSON.stringify(args[1]);
      case 'concat':
        return args.every(Array.isArray) ? (args as Value[][]).flat() : args.map((a) => stringOf(a)).join('');
      case 'createobject': {
        const result: Record<string, Value> = {};
        for (let i = 0; i < args.length; i += 2) result[String(args[i])] = args[i + 1] as Value;
        return result;
      }
      case 'union': {
        if (args.some((arg) => arg instanceof Unknown)) return derive(...args);
        if (args.every(Array.isArray)) return [...new Set((args as Value[][]).flat())];
        return Object.assign({}, ...(args as Record<string, Value>[]));
      }
      case 'guid':
      case 'uniquestring': {
        const hash = createHash('sha256').update(JSON.stringify(args)).digest('hex');
        if (lower === 'uniquestring') return hash.slice(0, 13);
        return `${hash.slice(0, 8)}-${hash.slice(8, 12)}-${hash.slice(12, 16)}-${hash.slice(16, 20)}-${hash.slice(20, 32)}`;
      }
    }
    throw new Error(`ARM function ${name}() is not supported by test/infra/armTemplate.ts: add it there`);
  }
}

/** `Microsoft.ServiceBus/namespaces/queues`, [`sb`, `q`] → `/providers/Microsoft.ServiceBus/namespaces/sb/queues/q`. */
function providerPath(args: Value[]): string {
  const [type, ...names] = args as string[];
  const [namespace, ...types] = (type as string).split('/');
  if (types.length !== names.length) throw new Error(`resource id of ${type}: ${names.length} names given`);
  return `/providers/${namespace}${types.map((t, i) => `/${t}/${names[i]}`).join('')}`;
}

function stringOf(value: Value): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function member(target: Unknown, name: string): Unknown {
  const ref = target.ref;
  return ref ? new Unknown([{ id: ref.id, path: [...ref.path, name] }], false) : target;
}

function derive(...inputs: Value[]): Unknown {
  return new Unknown(
    inputs.flatMap((input) => (input instanceof Unknown ? input.refs : [])),
    true,
  );
}
