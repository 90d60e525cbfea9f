/**
 * tools/infra/bicep.ts: where `npm run infra:build` and the template tests look for a Bicep CLI, and how they read its
 * findings. The CLIs here are stand-in shell scripts that answer `--version` the way the real one does
 * (`Bicep CLI version X.Y.Z (commit)`), each with its own version so the test sees which one was picked.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BicepToolError, findBicep, parseDiagnostics, runtimeIdentifier } from '../../tools/infra/bicep.js';

const dir = mkdtempSync(join(tmpdir(), 'bicep-finder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in Bicep CLI at `path` that reports `version`. */
function fakeBicep(path: string, version: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `#!/bin/sh\necho "Bicep CLI version ${version} (0123456789)"\n`);
  chmodSync(path, 0o755);
  return path;
}

const home = join(dir, 'home');
const pathDir = join(dir, 'bin');
const az = fakeBicep(join(home, '.azure', 'bin', 'bicep'), '0.30.1');
const azd = fakeBicep(join(home, '.azd', 'bin', 'bicep-cli-linux-x64'), '0.29.4');
const onPath = fakeBicep(join(pathDir, 'bicep'), '0.31.2');
const explicit = fakeBicep(join(dir, 'custom', 'bicep'), '0.32.0');
// No dotnet on these PATHs (the scripts name /bin/sh themselves), and a root with no .tools/: nothing to restore.
const root = join(dir, 'repo');
const emptyDir = join(dir, 'empty');
mkdirSync(root);
mkdirSync(emptyDir);
const env = (extra: Record<string, string>) => ({ HOME: home, PATH: pathDir, ...extra });

describe('finding a Bicep CLI', () => {
  it('takes BICEP_PATH first, then bicep on the PATH, then az’s copy, then azd’s', async () => {
    const found = async (e: NodeJS.ProcessEnv) => {
      const lookup = await findBicep({ root, env: e });
      return lookup.found ? [lookup.cli.source, lookup.cli.path, lookup.cli.version] : lookup.reason;
    };
    expect(await found(env({ BICEP_PATH: explicit }))).toEqual(['BICEP_PATH', explicit, '0.32.0']);
    expect(await found(env({}))).toEqual(['PATH', onPath, '0.31.2']);
    expect(await found(env({ PATH: emptyDir }))).toEqual(['az', az, '0.30.1']);
    rmSync(az);
    expect(await found(env({ PATH: emptyDir }))).toEqual(['azd', azd, '0.29.4']);
    rmSync(azd);
    expect(await found(env({ PATH: emptyDir }))).toMatch(
      /^no Bicep CLI: .*no dotnet to restore Azure\.Bicep\.CommandLine\./,
    );
  });

  it('refuses a BICEP_PATH that is not a Bicep CLI, naming it', async () => {
    const notBicep = join(dir, 'not-bicep');
    writeFileSync(notBicep, '#!/bin/sh\necho hello\n');
    chmodSync(notBicep, 0o755);
    await expect(findBicep({ root, env: env({ BICEP_PATH: notBicep }) })).rejects.toThrow(BicepToolError);
    await expect(findBicep({ root, env: env({ BICEP_PATH: join(dir, 'missing') }) })).rejects.toThrow(
      /BICEP_PATH=.*missing is not an executable Bicep CLI/,
    );
  });
});

describe('reading the CLI', () => {
  it('names the NuGet package for this machine', () => {
    expect(runtimeIdentifier('linux', 'x64')).toBe('linux-x64');
    expect(runtimeIdentifier('darwin', 'arm64')).toBe('osx-arm64');
    expect(runtimeIdentifier('win32', 'x64')).toBe('win-x64');
    expect(() => runtimeIdentifier('aix', 'ppc64')).toThrow(/set BICEP_PATH/);
  });

  it('parses errors and warnings, relative to the root, and ignores Info lines', () => {
    const output = [
      '/repo/infra/modules/eventGrid.bicep(16,5) : Warning BCP089: The property "inputSchem" is not allowed. [https://aka.ms/bicep/core-diagnostics#BCP089]',
      '/repo/infra/main.bicep(107,3) : Error BCP035: The specified "object" declaration is missing "x".',
      '/repo/infra/main.bicep(1,1) : Info some-rule: informational only',
      'unrelated line',
    ].join('\n');
    expect(parseDiagnostics(output, '/repo')).toEqual([
      {
        file: 'infra/modules/eventGrid.bicep',
        line: 16,
        column: 5,
        level: 'Warning',
        code: 'BCP089',
        message: 'The property "inputSchem" is not allowed. [https://aka.ms/bicep/core-diagnostics#BCP089]',
      },
      {
        file: 'infra/main.bicep',
        line: 107,
        column: 3,
        level: 'Error',
        code: 'BCP035',
        message: 'The specified "object" declaration is missing "x".',
      },
    ]);
  });
});
