import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { PermanentError } from '../errors.js';

/**
 * A callback URL we will not post to. The message says what is wrong and never quotes the URL's query (Power
 * Automate's callback query carries a signature that lets anyone trigger the flow).
 */
export class CallbackUrlError extends PermanentError {
  override readonly name = 'CallbackUrlError';
  readonly code = 'InvalidCallbackUrl';
}

/** Longer than any real callback (Power Automate's are a few hundred characters); the rest is abuse. */
export const MAX_CALLBACK_URL_LENGTH = 4096;

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

// How ipaddr.js range names read in a message.
const RANGE_NAMES: Record<string, string> = {
  private: 'a private (RFC 1918) address',
  loopback: 'a loopback address',
  linkLocal: 'a link-local address (this includes cloud metadata endpoints)',
  uniqueLocal: 'a unique local (private IPv6) address',
  carrierGradeNat: 'a carrier-grade NAT (shared) address',
  unspecified: 'the unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  ipv4Mapped: 'an IPv4-mapped address',
  rfc6052: 'a NAT64 address (it embeds an IPv4 address)',
  rfc6145: 'an IPv4-translated address',
  '6to4': 'a 6to4 address (it embeds an IPv4 address)',
  teredo: 'a Teredo address (it embeds an IPv4 address)',
  reserved: 'a reserved or documentation address',
  notGlobal: 'an IPv6 address outside global unicast (2000::/3), such as an IPv4-compatible one (::/96)',
};

/** IPv6 global unicast: every other IPv6 prefix is reserved, local, multicast or embeds an IPv4 address. */
const GLOBAL_UNICAST_V6: [string, number] = ['2000::', 3];

/**
 * Checks a subscription's callback URL and returns it parsed. Throws {@link CallbackUrlError} unless:
 * - it is an absolute URL of at most {@link MAX_CALLBACK_URL_LENGTH} characters without a user name or password;
 * - it uses https, or http to `localhost`, `127.0.0.1` or `[::1]` when `localMode` is on;
 * - outside local mode, its host is not `localhost`/`*.localhost` and, when it is an IP address (in any spelling the
 *   URL parser accepts, such as `http://2130706433`), that address is public unicast (see {@link isAllowedAddress}).
 *
 * Host names are checked again when connecting, against what they resolve to (`HttpCallbackSender`), since a name
 * can point anywhere.
 *
 * @example
 * checkCallbackUrl('https://prod-12.westeurope.logic.azure.com/workflows/…?sig=…', { localMode: false }); // a URL
 * checkCallbackUrl('https://169.254.169.254/metadata', { localMode: false }); // throws CallbackUrlError
 */
export function checkCallbackUrl(text: string, options: { localMode: boolean }): URL {
  if (typeof text !== 'string' || text.length > MAX_CALLBACK_URL_LENGTH) {
    throw new CallbackUrlError(`callbackUrl must be a URL of at most ${MAX_CALLBACK_URL_LENGTH} characters.`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CallbackUrlError('callbackUrl must be an absolute https URL, such as the one Power Automate gives.');
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (url.protocol === 'http:') {
    if (!(options.localMode && LOCAL_HOSTS.has(host))) {
      throw new CallbackUrlError(
        'callbackUrl must use https; http is accepted only for localhost, 127.0.0.1 or [::1] when the app runs locally.',
      );
    }
  } else if (url.protocol !== 'https:') {
    throw new CallbackUrlError(`callbackUrl must use https, not ${url.protocol.replace(/:$/, '')}.`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new CallbackUrlError(
      'callbackUrl must not contain a user name or password; receivers check the X-Bridge-Signature-256 header instead.',
    );
  }
  if (options.localMode) return url;
  if (host === 'localhost' || host.endsWith('.localhost')) {
    throw new CallbackUrlError('callbackUrl must not point at localhost; callbacks must go to a public address.');
  }
  const ip = host.startsWith('[') ? host.slice(1, -1) : host;
  if (isIP(ip) !== 0 && !isAllowedAddress(ip, false)) {
    throw new CallbackUrlError(`callbackUrl points at ${describeAddress(ip)}; callbacks must go to a public address.`);
  }
  return url;
}

/**
 * Whether a callback may connect to this IP address: in local mode any address; otherwise only public unicast ones,
 * by an allow-list. IPv4: only what ipaddr.js calls `unicast` (private, loopback, link-local with the 169.254.169.254
 * metadata endpoint, carrier-grade NAT, unspecified, broadcast, multicast, reserved and documentation ranges are
 * not). IPv6: only global unicast (2000::/3) that is `unicast` too, so IPv4-compatible (`::/96`, such as
 * `::7f00:1`), IPv4-mapped, NAT64, 6to4 and Teredo forms are refused whatever they embed, and so are unique local,
 * link-local, multicast, documentation and every reserved prefix. `false` for anything that is not an IP address.
 *
 * @example
 * isAllowedAddress('20.50.2.1', false);  // true
 * isAllowedAddress('10.0.0.4', false);   // false
 * isAllowedAddress('::ffff:127.0.0.1', false); // false
 * isAllowedAddress('::7f00:1', false);   // false
 * isAllowedAddress('10.0.0.4', true);    // true
 */
export function isAllowedAddress(ip: string, localMode: boolean): boolean {
  if (isIP(ip) === 0) return false;
  if (localMode) return true;
  return rangeOf(ip) === 'unicast';
}

/**
 * The ipaddr.js range of an address, with `notGlobal` for IPv6 outside 2000::/3 that ipaddr.js would call unicast
 * (it has no name for `::/96`), and `reserved` for one it cannot parse (with a zone id).
 */
function rangeOf(ip: string): string {
  try {
    const parsed = addresses().parse(ip);
    if (parsed.kind() === 'ipv6') {
      const v6 = parsed as ipaddr.IPv6;
      const range = v6.range();
      if (range === 'unicast' && !v6.match(addresses().IPv6.parse(GLOBAL_UNICAST_V6[0]), GLOBAL_UNICAST_V6[1])) {
        return 'notGlobal';
      }
      return range;
    }
    return parsed.range();
  } catch {
    return 'reserved';
  }
}

/** `10.1.2.3, a private (RFC 1918) address`, for messages. */
function describeAddress(ip: string): string {
  const range = rangeOf(ip);
  return `${ip}, ${RANGE_NAMES[range] ?? `a ${range} address that is not public`}`;
}

/**
 * ipaddr.js. Imported statically so that the bundle carries it (the deployed package has no node_modules); it still
 * loads on first use, not at start-up: only handler modules, which the function files import on their first call,
 * reach this file.
 */
function addresses(): typeof ipaddr {
  return ipaddr;
}
