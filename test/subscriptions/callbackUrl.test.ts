import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../shared/errors.js';
import { CallbackUrlError, checkCallbackUrl, isAllowedAddress } from '../../shared/subscriptions/callbackUrl.js';

const QUERY = '?api-version=2016-06-01&sig=TOP-SECRET-SIGNATURE';
const POWER_AUTOMATE = `https://prod-12.westeurope.logic.azure.com:443/workflows/0123456789abcdef/triggers/manual/paths/invoke${QUERY}`;

/** The error checkCallbackUrl throws for `url`, or undefined when it accepts it. */
function refusal(url: string, localMode: boolean): CallbackUrlError | undefined {
  try {
    checkCallbackUrl(url, { localMode });
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(CallbackUrlError);
    return error as CallbackUrlError;
  }
}

// [url, accepted in production, accepted in local mode]
const TABLE: [string, boolean, boolean][] = [
  [POWER_AUTOMATE, true, true],
  [`https://example.com/hook${QUERY}`, true, true],
  [`https://20.50.2.1/hook${QUERY}`, true, true],
  [`https://[2606:4700:4700::1111]/hook${QUERY}`, true, true],
  [`https://10.0.0.5/hook${QUERY}`, false, true],
  [`https://172.16.3.4/hook${QUERY}`, false, true],
  [`https://172.31.255.255/hook${QUERY}`, false, true],
  [`https://192.168.1.10/hook${QUERY}`, false, true],
  [`https://127.0.0.1/hook${QUERY}`, false, true],
  [`https://127.8.9.10/hook${QUERY}`, false, true],
  [`https://169.254.169.254/metadata/instance${QUERY}`, false, true],
  [`https://[::1]/hook${QUERY}`, false, true],
  [`https://[fe80::1]/hook${QUERY}`, false, true],
  [`https://[fc00::1]/hook${QUERY}`, false, true],
  [`https://[fd12:3456::1]/hook${QUERY}`, false, true],
  [`https://[::ffff:127.0.0.1]/hook${QUERY}`, false, true],
  [`https://[::ffff:10.0.0.1]/hook${QUERY}`, false, true],
  // IPv4-compatible (::/96): the URL parser writes [::127.0.0.1] as [::7f00:1].
  [`https://[::7f00:1]/hook${QUERY}`, false, true],
  [`https://[::127.0.0.1]/hook${QUERY}`, false, true],
  [`https://[::a9fe:a9fe]/hook${QUERY}`, false, true],
  [`https://[::a00:1]/hook${QUERY}`, false, true],
  [`https://[::8.8.8.8]/hook${QUERY}`, false, true],
  [`https://[::ffff:8.8.8.8]/hook${QUERY}`, false, true],
  [`https://[64:ff9b::a9fe:a9fe]/hook${QUERY}`, false, true],
  [`https://[2002:c0a8:101::1]/hook${QUERY}`, false, true],
  [`https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook${QUERY}`, false, true],
  [`https://[100::1]/hook${QUERY}`, false, true],
  [`https://[5f00::1]/hook${QUERY}`, false, true],
  [`https://[4000::1]/hook${QUERY}`, false, true],
  [`https://0.0.0.0/hook${QUERY}`, false, true],
  [`https://100.64.0.1/hook${QUERY}`, false, true],
  [`https://224.0.0.1/hook${QUERY}`, false, true],
  [`https://255.255.255.255/hook${QUERY}`, false, true],
  [`https://2130706433/hook${QUERY}`, false, true],
  [`https://0x7f.1/hook${QUERY}`, false, true],
  [`https://localhost/hook${QUERY}`, false, true],
  [`https://LOCALHOST./hook${QUERY}`, false, true],
  [`https://api.localhost/hook${QUERY}`, false, true],
  [`http://localhost:7071/hook${QUERY}`, false, true],
  [`http://127.0.0.1:8080/hook${QUERY}`, false, true],
  [`http://[::1]:8080/hook${QUERY}`, false, true],
  [`http://2130706433/hook${QUERY}`, false, true],
  [`http://example.com/hook${QUERY}`, false, false],
  [`http://10.0.0.5/hook${QUERY}`, false, false],
  [`https://user:hunter2-secret@example.com/hook${QUERY}`, false, false],
  [`https://user@example.com/hook${QUERY}`, false, false],
  [`ftp://example.com/hook${QUERY}`, false, false],
  [`javascript:alert(1)//${QUERY}`, false, false],
  [`/api/hook${QUERY}`, false, false],
  [`not a url${QUERY}`, false, false],
  [`https://example.com/${'a'.repeat(4100)}${QUERY}`, false, false],
];

describe('checkCallbackUrl', () => {
  describe.each([
    ['production', false],
    ['local mode', true],
  ] as const)('%s', (_mode, localMode) => {
    it.each(TABLE)('%s', (url, production, local) => {
      const error = refusal(url, localMode);
      expect(error === undefined).toBe(localMode ? local : production);
      if (error) {
        expect(error.code).toBe('InvalidCallbackUrl');
        expect(error).toBeInstanceOf(PermanentError);
        expect(error.message).toMatch(/^callbackUrl /);
        expect(error.message).not.toContain('TOP-SECRET');
        expect(error.message).not.toContain('sig=');
        expect(error.message).not.toContain('hunter2');
      }
    });
  });

  it('returns the parsed URL, query included (the sender needs it)', () => {
    const url = checkCallbackUrl(POWER_AUTOMATE, { localMode: false });
    expect(url.hostname).toBe('prod-12.westeurope.logic.azure.com');
    expect(url.searchParams.get('sig')).toBe('TOP-SECRET-SIGNATURE');
  });

  it('says why: the address kind, the scheme, the user info', () => {
    expect(refusal('https://169.254.169.254/', false)?.message).toContain('link-local');
    expect(refusal('https://10.1.2.3/', false)?.message).toContain('private');
    expect(refusal('https://2130706433/', false)?.message).toContain('127.0.0.1, a loopback address');
    expect(refusal('http://example.com/', false)?.message).toContain('must use https');
    expect(refusal('https://a:b@example.com/', false)?.message).toContain('user name or password');
    expect(refusal('https://localhost/', false)?.message).toContain('localhost');
  });
});

describe('isAllowedAddress', () => {
  it.each([
    ['20.50.2.1', true],
    ['8.8.8.8', true],
    ['2606:4700:4700::1111', true],
    ['10.0.0.1', false],
    ['172.16.0.1', false],
    ['192.168.0.1', false],
    ['127.0.0.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['255.255.255.255', false],
    ['224.0.0.251', false],
    ['192.0.2.1', false],
    ['::', false],
    ['::1', false],
    ['fe80::1', false],
    ['fc00::1', false],
    ['ff02::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:169.254.169.254', false],
    ['64:ff9b::a00:1', false],
    ['2002:a00:1::', false],
    ['2001:db8::1', false],
    ['::7f00:1', false],
    ['::a9fe:a9fe', false],
    ['::a00:1', false],
    ['::808:808', false],
    ['::ffff:8.8.8.8', false],
    ['64:ff9b::808:808', false],
    ['64:ff9b:1::a00:1', false],
    ['2001::1', false],
    ['2001:2::1', false],
    ['100::1', false],
    ['3fff::1', false],
    ['5f00::1', false],
    ['4000::1', false],
    ['e000::1', false],
    ['fe80::1%eth0', false],
    ['2a01:111:f400::1', true],
    ['example.com', false],
    ['', false],
  ])('%s in production: %s', (ip, allowed) => {
    expect(isAllowedAddress(ip, false)).toBe(allowed);
  });

  it('allows any address in local mode, but only addresses', () => {
    expect(isAllowedAddress('10.0.0.1', true)).toBe(true);
    expect(isAllowedAddress('::1', true)).toBe(true);
    expect(isAllowedAddress('localhost', true)).toBe(false);
  });
});
