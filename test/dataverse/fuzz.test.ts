import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContextFormatError, readContext } from '../../shared/dataverse/index.js';
import { contextBytes, contextNames, rawContext } from '../helpers/fixtures.js';

const names = contextNames();
const samples = names.map((name) => contextBytes(name));
const raws = names.map((name) => rawContext(name));

/** The property: reading any input ends in a normalized context or the typed error — never anything else. */
function readsOrRefuses(...args: Parameters<typeof readContext>): void {
  try {
    const context = readContext(...args);
    expect(typeof context.messageName).toBe('string');
    expect(typeof context.inputParameters).toBe('object');
  } catch (error) {
    if (!(error instanceof ContextFormatError)) throw error;
    expect(error.message.length).toBeGreaterThan(10);
  }
}

/** Every [container, key] in a parsed JSON value, so a mutation can target any of them. */
function slots(value: unknown, out: [Record<string | number, unknown>, string | number][] = []) {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      out.push([value as never, i]);
      slots(value[i], out);
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, key]);
      slots(item, out);
    }
  }
  return out;
}

const sample = fc.nat(samples.length - 1);
const anyJson = fc.jsonValue({ maxDepth: 3 });
const runs = { numRuns: 2_000 };

describe('fuzz: mutations of the reference contexts', () => {
  it('truncated at any byte', () => {
    fc.assert(
      fc.property(sample, fc.nat(), (i, cut) => {
        const bytes = samples[i] as Buffer;
        readsOrRefuses(bytes.subarray(0, cut % bytes.length));
      }),
      runs,
    );
  });

  it('with garbage bytes written over any position', () => {
    fc.assert(
      fc.property(sample, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), (i, at, garbage) => {
        const bytes = Buffer.from(samples[i] as Buffer);
        bytes.set(garbage.subarray(0, Math.max(0, bytes.length - (at % bytes.length))), at % bytes.length);
        readsOrRefuses(bytes);
      }),
      runs,
    );
  });

  it('with any property or array item deleted', () => {
    fc.assert(
      fc.property(sample, fc.nat(), (i, pick) => {
        const raw = structuredClone(raws[i]);
        const all = slots(raw);
        const [container, key] = all[pick % all.length] as [Record<string | number, unknown>, string | number];
        if (Array.isArray(container)) container.splice(key as number, 1);
        else delete container[key];
        readsOrRefuses(JSON.stringify(raw));
      }),
      runs,
    );
  });

  it('with any value replaced by a value of another type', () => {
    fc.assert(
      fc.property(sample, fc.nat(), anyJson, (i, pick, replacement) => {
        const raw = structuredClone(raws[i]);
        const all = slots(raw);
        const [container, key] = all[pick % all.length] as [Record<string | number, unknown>, string | number];
        container[key] = replacement;
        readsOrRefuses(JSON.stringify(raw));
        readsOrRefuses(raw as object);
      }),
      runs,
    );
  });

  it('with any value nested deeply', () => {
    fc.assert(
      fc.property(sample, fc.nat(), fc.integer({ min: 1, max: 5_000 }), fc.boolean(), (i, pick, depth, asArray) => {
        const raw = structuredClone(raws[i]);
        const all = slots(raw);
        const [container, key] = all[pick % all.length] as [Record<string | number, unknown>, string | number];
        // Built as text: JSON.stringify itself would overflow the stack on such depths.
        const inner = JSON.stringify(container[key] ?? null);
        container[key] = '\u0000nest';
        const nested = asArray
          ? `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`
          : `${'{"Nested":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;
        readsOrRefuses(JSON.stringify(raw).replace('"\\u0000nest"', nested));
      }),
      { numRuns: 300 },
    );
  });

  it('any JSON document at all', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => readsOrRefuses(JSON.stringify(value))),
      runs,
    );
  });

  it('any bytes at all, under any declared content type', () => {
    const contentType = fc.constantFrom(
      undefined,
      'application/json',
      'application/xml',
      'application/msbin1',
      'text/plain; charset=utf-16le',
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), contentType, (bytes, type) =>
        readsOrRefuses(bytes, { contentType: type }),
      ),
      runs,
    );
  });
});
