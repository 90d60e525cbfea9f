/**
 * The checks on the Azure template that need no compiler: the files around the Bicep (local.settings.sample.json,
 * azure.yaml and its hooks) and the text of infra/ itself. Everything that reads the template as Azure receives it
 * (app settings, roles, SAS rules, Event Grid, the Flex Consumption app) is in template.test.ts, on the compiled JSON.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../shared/config.js';
import { REPO_ROOT } from '../helpers/localHost.js';

const INFRA = join(REPO_ROOT, 'infra');
const read = (...parts: string[]) => readFileSync(join(REPO_ROOT, ...parts), 'utf8');
const AZURE_YAML = read('azure.yaml');

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('the files around the Azure template (infra/, azure.yaml)', () => {
  it('lists every setting the code reads in local.settings.sample.json', () => {
    const sample = JSON.parse(read('local.settings.sample.json')) as { Values: Record<string, string> };
    const absent = Object.values(SETTINGS).filter((name) => !(name in sample.Values));
    expect(absent).toEqual([]);
  });

  it('keeps keys and connection strings out of infra/, literal or computed', () => {
    const offending = filesUnder(INFRA).flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return ['AccountKey=', 'SharedAccessKey=', 'listKeys(', 'listConnectionStrings(', 'primaryKey'].flatMap(
        (pattern) => (text.includes(pattern) ? [`${relative(REPO_ROOT, file)}: ${pattern}`] : []),
      );
    });
    expect(offending).toEqual([]);
  });

  it('names hook scripts in azure.yaml that exist, for both shells', () => {
    const scripts = [...AZURE_YAML.matchAll(/^\s*run: (\.\/\S+)$/gm)].map((m) => m[1] as string);
    expect(scripts.sort()).toEqual([
      './infra/hooks/postdeploy.ps1',
      './infra/hooks/postdeploy.sh',
      './infra/hooks/registerDataverse.ps1',
      './infra/hooks/registerDataverse.sh',
    ]);
    for (const script of scripts) expect(existsSync(join(REPO_ROOT, script))).toBe(true);
    const postdeploy = /^ {2}postdeploy:\n((?: {4}.*\n)+)/m.exec(AZURE_YAML)?.[1] ?? '';
    expect(postdeploy).toMatch(/posix:\n\s+shell: sh\n\s+run: \.\/infra\/hooks\/postdeploy\.sh/);
    expect(postdeploy).toMatch(/windows:\n\s+shell: pwsh\n\s+run: \.\/infra\/hooks\/postdeploy\.ps1/);
  });

  it('maps DATAVERSE_URL from the azd environment to the dataverseUrl parameter', () => {
    const file = JSON.parse(read('infra', 'main.parameters.json')) as { parameters: Record<string, { value: string }> };
    // biome-ignore lint/suspicious/noTemplateCurlyInString: azd's substitution syntax, not a JavaScript template
    expect(file.parameters.dataverseUrl?.value).toBe('${DATAVERSE_URL}');
  });
});
