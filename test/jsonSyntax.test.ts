import { describe, expect, it } from 'vitest';
import { findJsonSyntaxError } from '../shared/jsonSyntax.js';

describe('findJsonSyntaxError', () => {
  it('points at the first character that breaks the grammar, by line and column', () => {
    expect(findJsonSyntaxError('{"a": tru}')).toEqual({
      position: 6,
      line: 1,
      column: 7,
      atEnd: false,
      found: 'character "t"',
    });
    expect(findJsonSyntaxError('{\n  "a": 1,\n  oops\n}')).toMatchObject({ position: 14, line: 3, column: 3 });
  });

  it('calls a text that stops early truncated, and scans from an offset with lines counted from the start', () => {
    expect(findJsonSyntaxError('{"a": [1, 2')).toMatchObject({ position: 11, atEnd: true, found: 'end of the body' });
    expect(findJsonSyntaxError('\uFEFF{"a" 1}', 1)).toMatchObject({ position: 6, line: 1, column: 7 });
  });

  it('never quotes more of the text than the one character it points at', () => {
    const error = findJsonSyntaxError('{"secret": "abc123", oops}');
    expect(JSON.stringify(error)).not.toContain('abc123');
  });

  it('says nothing when it cannot tell: valid JSON, or nesting too deep for the scanner', () => {
    expect(findJsonSyntaxError('{"a": [1, 2]}')).toBeUndefined();
    expect(findJsonSyntaxError(`${'['.repeat(200_000)}x`)).toBeUndefined();
  });
});
