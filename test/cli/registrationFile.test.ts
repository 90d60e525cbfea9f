import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRegistrationFile, schemaPath } from '../../tools/cli/registrationFile.js';
import { REPO_ROOT } from '../helpers/localHost.js';

describe('the registration file format', () => {
  it('the sample checks out against the published schema, which it references', () => {
    const sample = join(REPO_ROOT, 'samples', 'registration.json');
    const { registration } = readRegistrationFile(sample);
    expect(registration.endpoint).toEqual({
      name: 'Dataverse Bridge',
      transport: 'queue',
      namespace: 'contoso-bridge',
      path: 'dataverse',
      sasKeyName: 'dataverse-send',
    });
    expect(registration.steps).toHaveLength(2);
    const schemaRef = (JSON.parse(readFileSync(sample, 'utf8')) as { $schema: string }).$schema;
    expect(join(REPO_ROOT, 'samples', schemaRef)).toBe(schemaPath());
    expect(schemaPath()).toBe(join(REPO_ROOT, 'docs', 'registration.schema.json'));
  });

  it('a file that cannot be read is one error, naming it', () => {
    expect(() => readRegistrationFile(join(REPO_ROOT, 'no-such-registration.json'))).toThrow(
      expect.arrayContaining([
        expect.objectContaining({ message: expect.stringContaining('cannot read the file (ENOENT)') }),
      ]),
    );
  });

  it('register and status have --help (the built CLI)', () => {
    const bin = join(REPO_ROOT, 'dist', 'tools', 'cli', 'main.js');
    for (const [command, option] of [
      ['register', '--dry-run'],
      ['status', '--hours <n>'],
    ] as const) {
      const result = spawnSync(process.execPath, [bin, command, '--help'], { encoding: 'utf8' });
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(option);
      expect(result.stdout).toContain('Exit codes:');
    }
  });
});
