/**
 * The normalized Dataverse execution context: the contract in DESIGN.md ("The normalized context").
 *
 * One rule: property names are the original names in camelCase; key/value collections become objects (their keys
 * are data, such as attribute or parameter names, and are kept exactly); typed values become plain JSON.
 */

/** Any value after normalization. */
export type NormalizedValue =
  | string
  | number
  | boolean
  | null
  | NormalizedValue[]
  | NormalizedEntity
  | NormalizedEntityReference
  | NormalizedObject;

/** A key/value collection turned into an object, or an object whose properties were camelCased. */
export interface NormalizedObject {
  [key: string]: NormalizedValue;
}

/** A Dataverse `Entity` (a table row): the Target of Create/Update, an image, an item of an EntityCollection. */
export interface NormalizedEntity {
  logicalName: string;
  id: string;
  attributes: NormalizedObject;
  formattedValues: NormalizedObject;
  keyAttributes: NormalizedObject;
  rowVersion: string | null;
  /** Related rows keyed by relationship schema name; present only when Dataverse sent some. */
  relatedEntities?: { [relationshipSchemaName: string]: NormalizedEntity[] };
}

/** A Dataverse `EntityReference` (a lookup value). */
export interface NormalizedEntityReference {
  logicalName: string;
  id: string;
  name: string | null;
  /** Alternate-key values; present only when not empty. */
  keyAttributes?: NormalizedObject;
}

/** The normalized `RemoteExecutionContext`. Fields Dataverse did not send are `null` (collections: `{}`). */
export interface NormalizedContext {
  messageName: string;
  primaryEntityName: string;
  primaryEntityId: string;
  secondaryEntityName: string | null;
  /** 10 PreValidation, 20 PreOperation, 30 MainOperation, 40 PostOperation. */
  stage: number | null;
  /** 0 synchronous, 1 asynchronous. */
  mode: number | null;
  depth: number | null;
  isolationMode: number | null;
  /** The system job id: stable across Dataverse's own retries of an asynchronous step. */
  operationId: string | null;
  /** ISO 8601 UTC, e.g. `2017-09-26T07:04:08.000Z`. */
  operationCreatedOn: string | null;
  requestId: string | null;
  correlationId: string | null;
  organizationId: string;
  organizationName: string | null;
  businessUnitId: string | null;
  userId: string | null;
  initiatingUserId: string | null;
  userAzureActiveDirectoryObjectId: string | null;
  initiatingUserAzureActiveDirectoryObjectId: string | null;
  initiatingUserAgent: string | null;
  isExecutingOffline: boolean | null;
  isInTransaction: boolean | null;
  isOfflinePlayback: boolean | null;
  /** The step (sdkmessageprocessingstep) or service endpoint that produced this context. */
  owningExtension: NormalizedEntityReference | null;
  inputParameters: NormalizedObject;
  outputParameters: NormalizedObject;
  sharedVariables: NormalizedObject;
  preEntityImages: { [imageName: string]: NormalizedEntity };
  postEntityImages: { [imageName: string]: NormalizedEntity };
  parentContext: NormalizedContext | null;
  /** For Update: the attribute names in Target (what the caller set); otherwise empty. */
  changedAttributes: string[];
  /** Dataverse dropped ParentContext, InputParameters and images because the message was too large. */
  messageMaxSizeExceeded: boolean;
  /** `https://<environment domain>` when the transport told us, else null. */
  organizationUrl: string | null;
  /** Top-level properties newer than this contract are kept, camelCased and normalized. */
  [extra: string]: unknown;
}
