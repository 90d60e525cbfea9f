import { readFile } from 'node:fs/promises';
import { ContextFormatError } from '../../shared/dataverse/errors.js';
import { readContext } from '../../shared/dataverse/readContext.js';
import type { Writable } from './output.js';

/** Options of `dataverse-bridge parse`. */
export interface ParseOptions {
  contentType?: string;
  /** `name=value` Service Bus application properties. */
  property?: string[];
  /** `name: value` webhook headers. */
  header?: string[];
  compact?: boolean;
}

/**
 * `dataverse-bridge parse`: reads a context from a file (or `-` for stdin) and writes its normalized JSON.
 * Returns the process exit code: 0 on success, 2 when the input is not a readable context.
 */
export async function runParse(file: string, options: ParseOptions, out: Writable, err: Writable): Promise<number> {
  let body: Buffer;
  try {
    body = file === '-' ? await readStdin() : await readFile(file);
  } catch (error) {
    err.write(`error: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
    return 2;
  }
  let pairs: { properties: Record<string, string>; headers: Record<string, string> };
  try {
    pairs = { properties: splitPairs(options.property, '='), headers: splitPairs(options.header, ':', true) };
  } catch (error) {
    err.write(`error: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    const context = readContext(body, {
      contentType: options.contentType,
      applicationProperties: pairs.properties,
      headers: pairs.headers,
    });
    out.write(`${JSON.stringify(context, null, options.compact ? undefined : 2)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ContextFormatError)) throw error;
    err.write(`error: ${error.code}: ${error.message}\n`);
    return 2;
  }
}

function splitPairs(items: string[] | undefined, separator: string, lowerCaseNames = false): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const item of items ?? []) {
    const at = item.indexOf(separator);
    if (at <= 0) throw new Error(`"${item}" must be written as name${separator}value`);
    const name = item.slice(0, at).trim();
    pairs[lowerCaseNames ? name.toLowerCase() : name] = item.slice(at + 1).trim();
  }
  return pairs;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
