import { describe, expect, it } from 'vitest';
import { readContext } from '../../shared/dataverse/index.js';
import { dataContractJson } from '../helpers/contexts.js';
import { contextBytes, contextNames, expectedNames, expectedOutput, rawContext } from '../helpers/fixtures.js';

/** Every string in a value, and every property name, depth first. */
function* walk(value: unknown): Generator<{ key?: string; value: unknown }> {
  yield { value };
  if (Array.isArray(value)) for (const item of value) yield* walk(item);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      yield { key, value: item };
      yield* walk(item);
    }
  }
}

describe('every reference context', () => {
  it('is in the corpus (12 real payloads)', () => {
    expect(contextNames()).toHaveLength(12);
  });

  describe.each(contextNames())('%s', (name) => {
    const raw = rawContext(name);
    const context = readContext(contextBytes(name));

    it('keeps the identity of the operation', () => {
      expect(context.messageName).toBe(raw.MessageName);
      expect(context.primaryEntityName).toBe(raw.PrimaryEntityName);
      expect(context.primaryEntityId).toBe(raw.PrimaryEntityId);
      expect(context.organizationId).toBe(raw.OrganizationId);
      expect(context.operationId).toBe(raw.OperationId);
      expect(context.operationCreatedOn).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    it('keeps every parameter and image by its original key', () => {
      const keys = (collection: unknown) => (collection as { key: string }[]).map((pair) => pair.key);
      expect(Object.keys(context.inputParameters)).toEqual(keys(raw.InputParameters));
      expect(Object.keys(context.outputParameters)).toEqual(keys(raw.OutputParameters));
      expect(Object.keys(context.sharedVariables)).toEqual(keys(raw.SharedVariables));
      expect(Object.keys(context.preEntityImages)).toEqual(keys(raw.PreEntityImages));
      expect(Object.keys(context.postEntityImages)).toEqual(keys(raw.PostEntityImages));
    });

    it('leaves no type hint, no DataContract date and no key/value array behind', () => {
      for (const { key, value } of walk(context)) {
        expect(key).not.toBe('__type');
        if (typeof value === 'string') expect(value).not.toMatch(/^\/Date\(/);
        if (Array.isArray(value) && value.length > 0) expect(value[0]).not.toHaveProperty('key');
      }
    });

    it('reads the same whether slashes are escaped or not', () => {
      expect(readContext(dataContractJson(raw))).toEqual(context);
      expect(readContext(JSON.stringify(raw))).toEqual(context);
    });
  });
});

describe('hand-written expected outputs', () => {
  it('cover at least five reference contexts', () => {
    expect(expectedNames().length).toBeGreaterThanOrEqual(5);
  });

  it.each(expectedNames())('%s matches its expected output exactly', (name) => {
    expect(readContext(contextBytes(name))).toStrictEqual(expectedOutput(name));
  });
});
