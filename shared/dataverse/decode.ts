import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { findJsonSyntaxError } from '../jsonSyntax.js';
import { ContextFormatError } from './errors.js';

/** A body as a trigger hands it over: raw bytes, text, or JSON the host already parsed. */
export type ContextBody = Uint8Array | ArrayBuffer | string | object;

const JSON_FORMAT_HINT =
  'Set "Message Format" to JSON on the service endpoint in the Plug-in Registration Tool, then replay the message.';

/** The media type and charset of a Content-Type value, lower-cased; `undefined` parts were not given. */
export function parseContentType(contentType: string | null | undefined): { mediaType?: string; charset?: string } {
  if (!contentType) return {};
  const [type, ...params] = contentType.split(';');
  const mediaType = type?.trim().toLowerCase() || undefined;
  let charset: string | undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq > 0 && param.slice(0, eq).trim().toLowerCase() === 'charset') {
      charset = param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
    }
  }
  return { mediaType, charset };
}

/**
 * Turns a body into the parsed JSON value of a context, refusing what is not JSON with a {@link ContextFormatError}
 * that says why: .NET binary and XML message formats, bytes that are not valid text, malformed or truncated JSON.
 * A UTF-8 byte order mark is accepted and dropped.
 *
 * @example
 * decodeContextBody(Buffer.from('{"MessageName":"Update"}'), 'application/json'); // → { MessageName: 'Update' }
 */
export function decodeContextBody(body: ContextBody, contentType?: string | null): unknown {
  const { mediaType, charset } = parseContentType(contentType);
  if (mediaType === 'application/msbin1') {
    throw new ContextFormatError(
      'UnsupportedMessageFormat',
      'The message is in .NET Binary XML format (application/msbin1), which only .NET can read',
      { hint: JSON_FORMAT_HINT },
    );
  }
  if (typeof body === 'string') return parseJsonText(body, mediaType);
  if (body instanceof Uint8Array || body instanceof ArrayBuffer) {
    return parseJsonText(bytesToText(body instanceof ArrayBuffer ? new Uint8Array(body) : body, charset), mediaType);
  }
  // The Functions host parses JSON bodies itself; what arrives then is already a value.
  return body;
}

function bytesToText(bytes: Uint8Array, charset: string | undefined): string {
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') {
    if (!isUtf8(bytes)) {
      throw new ContextFormatError('InvalidEncoding', `The body is not valid UTF-8${binaryNote(bytes)}`, {
        path: `byte ${firstInvalidUtf8Byte(bytes)}`,
        hint: looksBinary(bytes) ? JSON_FORMAT_HINT : 'Dataverse sends UTF-8; check what produced this message.',
      });
    }
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset, { fatal: true });
  } catch (cause) {
    throw new ContextFormatError('InvalidEncoding', `The content type names an unknown charset "${charset}"`, {
      hint: 'Send the body as UTF-8 (charset=utf-8).',
      cause,
    });
  }
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new ContextFormatError('InvalidEncoding', `The body is not valid ${charset}`, { cause });
  }
}

function parseJsonText(text: string, mediaType: string | undefined): unknown {
  // A byte order mark is legal at the start of a UTF-8 stream but not in JSON.
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let first = start;
  while (first < text.length && isJsonWhitespace(text.charCodeAt(first))) first++;
  if (first === text.length) {
    throw new ContextFormatError('EmptyBody', 'The body is empty', {
      hint: 'Dataverse always sends the execution context; check what produced this message.',
    });
  }
  if (text.charCodeAt(first) === 0x3c /* < */ || mediaType === 'application/xml' || mediaType === 'text/xml') {
    throw new ContextFormatError(
      'UnsupportedMessageFormat',
      'The message is in XML format; Dataverse Bridge reads the JSON message format',
      { hint: JSON_FORMAT_HINT },
    );
  }
  try {
    return JSON.parse(start === 0 ? text : text.slice(start));
  } catch (cause) {
    if (cause instanceof RangeError) {
      throw new ContextFormatError('TooDeep', 'The JSON nests too deeply to read', { cause });
    }
    throw notJsonError(text, start, cause);
  }
}

function notJsonError(text: string, start: number, cause: unknown): ContextFormatError {
  // Not JSON.parse's own message: it quotes the body, which may carry a secret, and this one is logged, kept on the
  // job and answered.
  const error = findJsonSyntaxError(text, start);
  const reason = error ? `unexpected ${error.found}` : 'it cannot be parsed';
  return new ContextFormatError('NotJson', `The body is not valid JSON (${reason})`, {
    ...(error ? { path: `line ${error.line}, column ${error.column}` } : {}),
    hint: error?.atEnd
      ? 'The body ends too early: it looks truncated.'
      : 'The service endpoint must use Message Format JSON; webhooks always send JSON.',
    cause,
  });
}

function isJsonWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function looksBinary(bytes: Uint8Array): boolean {
  const end = Math.min(bytes.length, 64);
  for (let i = 0; i < end; i++) {
    const b = bytes[i] as number;
    if (b < 0x09 || (b > 0x0d && b < 0x20)) return true;
  }
  return false;
}

function binaryNote(bytes: Uint8Array): string {
  return looksBinary(bytes) ? ' (it looks like binary data, such as the .NET Binary XML message format)' : '';
}

/** Where the first malformed UTF-8 sequence starts (RFC 3629); runs only on the error path. */
function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i] as number;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const length =
      lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    for (let k = 1; k < length; k++) if (((bytes[i + k] as number) & 0xc0) !== 0x80) return i;
    const next = bytes[i + 1] as number;
    // Overlong forms and UTF-16 surrogates are malformed too.
    if ((lead === 0xe0 && next < 0xa0) || (lead === 0xed && next > 0x9f)) return i;
    if ((lead === 0xf0 && next < 0x90) || (lead === 0xf4 && next > 0x8f)) return i;
    i += length;
  }
  return bytes.length;
}
