const cache = new Map<string, string>();

/**
 * The camelCase form of a Dataverse property name: the leading capital, or leading acronym, in lower case.
 * Memoized, because the same few dozen names repeat in every context.
 *
 * @example
 * camelCase('OperationCreatedOn'); // 'operationCreatedOn'
 * camelCase('URLPath');            // 'urlPath'
 * camelCase('ID');                 // 'id'
 */
export function camelCase(name: string): string {
  let result = cache.get(name);
  if (result !== undefined) return result;
  let upper = 0;
  while (upper < name.length && isUpper(name.charCodeAt(upper))) upper++;
  if (upper === 0) result = name;
  else if (upper === 1 || upper === name.length) result = name.slice(0, upper).toLowerCase() + name.slice(upper);
  // "URLPath": the last capital starts the next word.
  else result = name.slice(0, upper - 1).toLowerCase() + name.slice(upper - 1);
  // Keys come from input; cap the cache so a hostile body cannot grow it without bound.
  if (cache.size < 10_000) cache.set(name, result);
  return result;
}

function isUpper(code: number): boolean {
  return code >= 65 && code <= 90;
}
