import { createHash } from 'node:crypto';
import type { RowSnapshot } from '../changes/types.js';
import type { Row } from '../dataverseApi/types.js';
import { eventIdFor } from '../events/eventId.js';

/**
 * `initiatingUserAgent` of a reconciliation event (in `data`), so consumers can tell it from Dataverse's own posts.
 * The CloudEvent also carries the extension attribute `bridgeorigin: reconciliation` (see `ingest`).
 */
export const RECONCILIATION_USER_AGENT = 'Dataverse Bridge reconciliation';

const ENTITY = 'Entity:http://schemas.microsoft.com/xrm/2011/Contracts';
const REFERENCE = 'EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts';

/**
 * The operation id of a reconciliation event: a hash of what identifies the row's version (table, row id and
 * `rowVersion`). The pipeline's dedupe key is built from it, so every run, redelivery or concurrent run that finds the
 * same gap lands on the same job and publishes once.
 */
export function reconcileOperationId(table: string, id: string, rowVersion: string): string {
  const hash = createHash('sha256').update(['rec1', table, id.toLowerCase(), rowVersion].join('\n')).digest('hex');
  return eventIdFor(hash.slice(0, 32));
}

/** The row's version: `versionnumber` when selected, else the number in its `@odata.etag` (`W/"<versionnumber>"`). */
export function rowVersion(row: Row): string | undefined {
  if (row.versionnumber !== undefined && row.versionnumber !== null) return String(row.versionnumber);
  return /^W\/"(.+)"$/.exec(row['@odata.etag'] ?? '')?.[1];
}

/**
 * The column values of a Web API row as a Target's attributes: annotations (`@odata.etag`, `…@OData.Community…`)
 * dropped, lookups (`_parentaccountid_value`) under their column's name with the related row's id.
 */
export function rowAttributes(row: Row): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) {
    if (name.includes('@')) continue;
    const lookup = /^_(.+)_value$/.exec(name)?.[1];
    attributes[lookup ?? name] = value;
  }
  return attributes;
}

interface Common {
  table: string;
  id: string;
  organizationId: string;
  operationId: string;
  /** ISO 8601 UTC. */
  operationCreatedOn: string;
}

/**
 * The execution context, in Dataverse's JSON format, that stands for a changed row: `Create` when the bridge never saw
 * the row, else `Update`, with every column the row has as its Target, at the row's `modifiedon`.
 */
export function upsertContext(input: Common & { message: 'Create' | 'Update'; attributes: Record<string, unknown> }) {
  return context(input, input.message, {
    __type: ENTITY,
    Attributes: Object.entries(input.attributes).map(([key, value]) => ({ key, value })),
    EntityState: null,
    FormattedValues: [],
    Id: input.id,
    KeyAttributes: [],
    LogicalName: input.table,
    RelatedEntities: [],
    RowVersion: null,
  });
}

/** The execution context of a Delete of a row the bridge still holds. */
export function deleteContext(input: Common) {
  return context(input, 'Delete', {
    __type: REFERENCE,
    Id: input.id,
    KeyAttributes: [],
    LogicalName: input.table,
    Name: null,
    RowVersion: null,
  });
}

/**
 * When a Delete found by change tracking happened is not known (Dataverse returns only the id): the event is dated
 * one millisecond after the newest event the bridge merged for the row, so it supersedes it, and every run that finds
 * the same deletion builds the same context (the same dedupe key).
 */
export function deleteTime(snapshot: RowSnapshot): string {
  return new Date(Date.parse(snapshot.updatedAt) + 1).toISOString();
}

function context(input: Common, message: string, target: Record<string, unknown>): Record<string, unknown> {
  return {
    MessageName: message,
    PrimaryEntityName: input.table,
    PrimaryEntityId: input.id,
    OrganizationId: input.organizationId,
    OperationId: input.operationId,
    OperationCreatedOn: input.operationCreatedOn,
    InitiatingUserAgent: RECONCILIATION_USER_AGENT,
    Stage: 40,
    Mode: 1,
    Depth: 1,
    InputParameters: [{ key: 'Target', value: target }],
    OutputParameters: [],
    PreEntityImages: [],
    PostEntityImages: [],
    SharedVariables: [],
    ParentContext: null,
  };
}
