/**
 * Where a text stops being JSON, for error messages. JSON.parse's own messages quote the input (V8: `Unexpected token
 * 's', "secret=eb4"... is not valid JSON`), which may hold a secret, and do not always give a position; these come from
 * a small scanner of the JSON grammar instead, run only once JSON.parse has failed.
 */

/** The first place `text` breaks the JSON grammar. */
export interface JsonSyntaxError {
  /** Index of the offending character (`text.length` when the text ends too early). */
  position: number;
  /** 1-based line and column of `position`. */
  line: number;
  column: number;
  /** The text ended where more JSON was expected: it looks truncated. */
  atEnd: boolean;
  /** What was found there: `end of the body` or `character "x"`. */
  found: string;
}

/**
 * Where `text` (which JSON.parse refused) breaks the grammar, scanning from `from` (after a byte-order mark, say), or
 * `undefined` when the scanner cannot tell (nested too deeply for it, or JSON.parse refused what the grammar allows).
 * Lines and columns count from the start of `text`.
 *
 * @example
 * findJsonSyntaxError('{"a": tru}'); // { position: 6, line: 1, column: 7, atEnd: false, found: 'character "t"' }
 */
export function findJsonSyntaxError(text: string, from = 0): JsonSyntaxError | undefined {
  let position: number;
  try {
    position = firstSyntaxError(text, from);
  } catch {
    return undefined; // the scanner's own recursion ran out of stack
  }
  if (position < 0) return undefined;
  const before = text.slice(0, position);
  const atEnd = position >= text.length;
  return {
    position,
    line: before.split('\n').length,
    column: position - before.lastIndexOf('\n'),
    atEnd,
    found: atEnd ? 'end of the body' : `character ${JSON.stringify(text[position])}`,
  };
}

/** The index of the first character from `from` on that breaks the JSON grammar, or -1. */
function firstSyntaxError(text: string, from: number): number {
  let i = from;
  class Stop {
    constructor(readonly at: number) {}
  }
  const stop = (): never => {
    throw new Stop(i);
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= text.length) stop();
      const char = text[i] as string;
      if (char === '"') {
        i++;
        return;
      }
      if (char === '\\') {
        const escaped = text[i + 1];
        if (escaped !== undefined && '"\\/bfnrt'.includes(escaped)) i += 2;
        else if (escaped === 'u') {
          i += 2;
          for (let n = 0; n < 4; n++, i++) if (!/[0-9a-fA-F]/.test(text[i] ?? '')) stop();
        } else {
          i++;
          stop();
        }
      } else if (char.charCodeAt(0) < 0x20) stop();
      else i++;
    }
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (): void => {
    space();
    const char = text[i];
    if (char === '{') {
      i++;
      space();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        space();
        if (text[i] !== '"') stop();
        string();
        space();
        if (text[i] !== ':') stop();
        i++;
        value();
        space();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else stop();
      }
    }
    if (char === '[') {
      i++;
      space();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        space();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else stop();
      }
    }
    if (char === '"') {
      string();
      return;
    }
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    NUMBER.lastIndex = i;
    const number = NUMBER.exec(text);
    if (!number || number[0] === '' || number[0] === '-') stop();
    i += (number as RegExpExecArray)[0].length;
  };
  try {
    value();
    space();
    if (i < text.length) stop();
    return -1;
  } catch (error) {
    if (error instanceof Stop) return error.at;
    throw error;
  }
}
