/** One line of an ignore file (`.funcignore`, gitignore syntax), compiled. */
export interface IgnoreRule {
  /** `!pattern`: puts back what an earlier line left out. */
  negate: boolean;
  /** `pattern/`: matches directories only. */
  directoryOnly: boolean;
  /** Tested against the path relative to the app folder, with `/` separators. */
  matcher: RegExp;
}

/**
 * Compiles an ignore file in gitignore syntax, which is what azd reads `.funcignore` as when it zips a function app:
 * `#` comments, `!` negation, a trailing `/` for directories, a pattern without an inner `/` matching at any depth,
 * `*`, `?`, `[…]` and `**`.
 *
 * @example
 * const rules = parseIgnoreFile('*.ts\n!dist/**\ntest\n');
 * isIgnored(rules, 'shared/config.ts', false); // true
 * isIgnored(rules, 'dist/functions/health.js', false); // false
 */
export function parseIgnoreFile(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    let line = rawLine.replace(/(?<!\\)\s+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1);
    const directoryOnly = line.endsWith('/');
    if (directoryOnly) line = line.slice(0, -1);
    // A slash at the start or in the middle anchors the pattern to the app folder; otherwise it matches at any depth.
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    const body = globToRegExp(line);
    rules.push({ negate, directoryOnly, matcher: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`) });
  }
  return rules;
}

/**
 * Whether the rules leave `path` out: the last rule that matches decides. Callers walk folders top-down and skip an
 * ignored folder whole, as git and azd do (a file inside a left-out folder cannot be put back).
 */
export function isIgnored(rules: readonly IgnoreRule[], path: string, isDirectory: boolean): boolean {
  let ignored = false;
  for (const rule of rules) {
    if (rule.directoryOnly && !isDirectory) continue;
    if (rule.matcher.test(path)) ignored = !rule.negate;
  }
  return ignored;
}

/** The body of a regular expression for one gitignore glob (no anchors). */
function globToRegExp(glob: string): string {
  let out = '';
  let i = 0;
  while (i < glob.length) {
    if (glob.startsWith('**/', i)) {
      out += '(?:.*/)?';
      i += 3;
    } else if (glob.startsWith('/**', i) && i + 3 === glob.length) {
      out += '/.*';
      i += 3;
    } else if (glob.startsWith('**', i)) {
      out += '.*';
      i += 2;
    } else {
      const char = glob[i] as string;
      const end = char === '[' ? glob.indexOf(']', i + 1) : -1;
      if (char === '*') out += '[^/]*';
      else if (char === '?') out += '[^/]';
      else if (end > i) {
        out += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      } else if (char === '\\' && i + 1 < glob.length) out += escapeRegExp(glob[++i] as string);
      else out += escapeRegExp(char);
      i++;
    }
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
