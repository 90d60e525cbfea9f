import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** The compiled lines of an ignore file (`.funcignore`, gitignore syntax). */
export type IgnoreRules = Ignore;

/**
 * Compiles an ignore file in gitignore syntax, which is what azd reads `.funcignore` as when it zips a function app
 * (the `ignore` package: the matcher ESLint and others use for .gitignore).
 *
 * @example
 * const rules = parseIgnoreFile('*.ts\n!dist/**\ntest\n');
 * isIgnored(rules, 'shared/config.ts', false); // true
 * isIgnored(rules, 'dist/functions/health.js', false); // false
 */
export function parseIgnoreFile(text: string): IgnoreRules {
  return ignore().add(text);
}

/**
 * Whether the rules leave `path` (relative to the app folder, `/` separators) out. A folder is tested with a trailing
 * `/`, so `pattern/` lines apply to it; callers walk folders top-down and skip an ignored folder whole, as git and azd
 * do (a file inside a left-out folder cannot be put back).
 */
export function isIgnored(rules: IgnoreRules, path: string, isDirectory: boolean): boolean {
  return rules.ignores(isDirectory ? `${path}/` : path);
}

/**
 * What azd leaves out when it zips a function app's package folder (`createDeployableZip` in azure-dev's
 * `project_utils.go`): the lines of the `.funcignore` in that folder, if there is one, and always the `.funcignore`
 * itself, `local.settings.json` and `.azure/`. azd reads `.funcignore` from the folder it zips (azure.yaml `dist`),
 * not from the project.
 *
 * @example
 * const rules = deployIgnoreRules('dist/app'); // no .funcignore there: everything but the three files ships
 */
export function deployIgnoreRules(packageRoot: string): IgnoreRules {
  const file = join(packageRoot, '.funcignore');
  const lines = existsSync(file) ? readFileSync(file, 'utf8') : '';
  return parseIgnoreFile(`${lines}\n.funcignore\nlocal.settings.json\n.azure/\n`);
}
