import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONTEXTS_DIR, contextBytes, rawContext } from '../helpers/fixtures.js';

// The CLI as users run it: the compiled bin (npm test builds before it tests).
const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'tools', 'cli', 'main.js');

function cli(args: string[], input?: string | Buffer) {
  const result = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('dataverse-bridge parse', () => {
  it('prints the normalized context of a file', () => {
    const { code, stdout, stderr } = cli(['parse', join(CONTEXTS_DIR, 'msdocs-usewebhooks-update-contact.json')]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const context = JSON.parse(stdout);
    expect(context.messageName).toBe('Update');
    expect(context.operationCreatedOn).toBe('2017-09-26T07:04:08.000Z');
    expect(context.changedAttributes).toEqual([
      'firstname',
      'contactid',
      'fullname',
      'yomifullname',
      'modifiedon',
      'modifiedby',
      'modifiedonbehalfby',
    ]);
  });

  it('reads standard input and applies transport facts from --header and --property', () => {
    const body = contextBytes('albxrm-create-albxrm_alltypes.json');
    const viaHeader = cli(
      ['parse', '-', '--header', 'x-ms-dynamics-organization: contoso.crm.dynamics.com', '--compact'],
      body,
    );
    expect(viaHeader.code).toBe(0);
    expect(viaHeader.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(viaHeader.stdout).organizationUrl).toBe('https://contoso.crm.dynamics.com');
    const viaProperty = cli(['parse', '-', '--property', 'MessageMaxSizeExceeded=true'], body);
    expect(JSON.parse(viaProperty.stdout).messageMaxSizeExceeded).toBe(true);
  });

  it('exits 2 with the reason on input that is not a context', () => {
    const notJson = cli(['parse', '-'], 'hello');
    expect(notJson.code).toBe(2);
    expect(notJson.stdout).toBe('');
    expect(notJson.stderr).toMatch(/^error: NotJson: The body is not valid JSON/);

    const binary = cli(
      ['parse', '-', '--content-type', 'application/msbin1'],
      JSON.stringify(rawContext('msdocs-usewebhooks-update-contact.json')),
    );
    expect(binary.code).toBe(2);
    expect(binary.stderr).toContain('Set "Message Format" to JSON');
  });

  it('exits 2 on a missing file and on a malformed option', () => {
    const missing = cli(['parse', join(CONTEXTS_DIR, 'no-such-file.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
    const badProperty = cli(['parse', '-', '--property', 'novalue'], '{}');
    expect(badProperty.code).toBe(2);
    expect(badProperty.stderr).toContain('name=value');
  });

  it('explains itself with --help', () => {
    const top = cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('parse');
    const parse = cli(['parse', '--help']);
    expect(parse.code).toBe(0);
    expect(parse.stdout).toContain('--content-type');
    expect(parse.stdout).toContain('Exit codes');
  });

  it('exits 2 on an unknown command', () => {
    const result = cli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });
});
