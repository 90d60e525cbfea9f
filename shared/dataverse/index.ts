export { camelCase } from './camelCase.js';
export { type ContextBody, decodeContextBody, parseContentType } from './decode.js';
export { type ContextErrorCode, ContextFormatError } from './errors.js';
export { MAX_NESTING, normalizeContext, parseDataContractDate, type TransportFacts } from './normalize.js';
export { readContext } from './readContext.js';
export {
  DATAVERSE_HEADERS,
  DATAVERSE_PROPERTIES,
  DATAVERSE_PROPERTY_NAMES,
  type HeaderSource,
  headerValue,
  organizationUrl,
  type TransportInfo,
  transportFacts,
} from './transport.js';
export type * from './types.js';
