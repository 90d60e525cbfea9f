import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The folder of real Dataverse contexts copied from ../shared/reference/dataverse-contexts. */
export const CONTEXTS_DIR = join(here, '..', 'fixtures', 'dataverse-contexts');
/** Hand-written expected normalized outputs, one per context they cover. */
export const EXPECTED_DIR = join(here, '..', 'fixtures', 'expected');

/** Names of every reference context (`*.json`). */
export function contextNames(): string[] {
  return readdirSync(CONTEXTS_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort();
}

/** The raw bytes of a reference context, exactly as stored. */
export function contextBytes(name: string): Buffer {
  return readFileSync(join(CONTEXTS_DIR, name));
}

/** A reference context parsed with plain JSON.parse (no normalization). */
export function rawContext(name: string): Record<string, unknown> {
  return JSON.parse(contextBytes(name).toString('utf8')) as Record<string, unknown>;
}

/** Names of contexts that have a hand-written expected output. */
export function expectedNames(): string[] {
  return readdirSync(EXPECTED_DIR)
    .filter((name) => name.endsWith('.normalized.json'))
    .map((name) => name.replace(/\.normalized\.json$/, '.json'))
    .sort();
}

/** The hand-written expected normalized output for a context. */
export function expectedOutput(name: string): unknown {
  return JSON.parse(readFileSync(join(EXPECTED_DIR, name.replace(/\.json$/, '.normalized.json')), 'utf8'));
}
