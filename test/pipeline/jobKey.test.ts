import { describe, expect, it } from 'vitest';
import { readContext } from '../../shared/dataverse/index.js';
import { eventIdFor } from '../../shared/events/eventId.js';
import { jobKeyForBytes, jobKeyForContext } from '../../shared/pipeline/jobKey.js';
import { rawContext } from '../helpers/contexts.js';
import { contextBytes } from '../helpers/fixtures.js';

function keyOf(body: Record<string, unknown>): string {
  const text = JSON.stringify(body);
  return jobKeyForContext(readContext(text), Buffer.from(text));
}

describe('the dedupe key', () => {
  it('is the same for a redelivery and for a Dataverse retry, even when the bytes differ', () => {
    const bytes = contextBytes('msdocs-usewebhooks-update-contact.json');
    const reformatted = Buffer.from(JSON.stringify(JSON.parse(bytes.toString())));
    expect(jobKeyForContext(readContext(bytes), bytes)).toBe(jobKeyForContext(readContext(reformatted), reformatted));
    expect(keyOf(rawContext())).toBe(
      keyOf(rawContext({ Depth: 1, CorrelationId: 'b374239d-4233-41a9-8b17-a86cb4f737b5' })),
    );
  });

  it('tells apart what a retry never changes: operation, time, step, stage, depth, row, message, organization', () => {
    const base = keyOf(rawContext());
    const variants = [
      { OperationId: '5af10637-4ea2-e711-8122-000d3aa2331c' },
      { OperationCreatedOn: '/Date(1506409448001)/' },
      {
        OwningExtension: {
          Id: '85417616-4ea2-e711-8122-000d3aa2331c',
          LogicalName: 'sdkmessageprocessingstep',
          Name: null,
          KeyAttributes: [],
        },
      },
      { Stage: 20 },
      { Depth: 2 },
      { PrimaryEntityId: '7d81597f-0f9f-e711-8122-000d3aa2331c' },
      { MessageName: 'Create' },
      { OrganizationId: '5ef5b371-e89e-e711-8122-000d3aa2331c' },
    ];
    const keys = new Set(variants.map((v) => keyOf(rawContext(v))));
    expect(keys.size).toBe(variants.length);
    expect(keys.has(base)).toBe(false);
  });

  it('falls back to the bytes when there is no OperationId', () => {
    const text = JSON.stringify(rawContext({ OperationId: null }));
    expect(jobKeyForContext(readContext(text), Buffer.from(text))).toBe(jobKeyForBytes(Buffer.from(text)));
  });

  it('is 32 hex characters', () => {
    expect(keyOf(rawContext())).toMatch(/^[0-9a-f]{32}$/);
    expect(jobKeyForBytes(Buffer.from('x'))).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('eventIdFor', () => {
  it('writes the job id as a version 8 UUID', () => {
    expect(eventIdFor('0123456789abcdef0123456789abcdef')).toBe('01234567-89ab-8def-8123-456789abcdef');
    expect(eventIdFor('ffffffffffffffffffffffffffffffff')).toBe('ffffffff-ffff-8fff-bfff-ffffffffffff');
  });
});
