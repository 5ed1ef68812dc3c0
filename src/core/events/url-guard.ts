import { promises as dns } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { HubError } from '../errors.js';

/**
 * Subscription URLs must not make the hub a proxy into its own network (SSRF): a subscriber is at a
 * public unicast address, never loopback, private (RFC 1918), link-local (cloud metadata at
 * 169.254.169.254), carrier-grade NAT, unique-local, multicast or reserved, nor an IPv6 form that
 * embeds one (IPv4-mapped, NAT64, 6to4). Checked when a URL is given (a literal address, and what
 * its name resolves to then) and again on every delivery, where the connection uses only the
 * addresses just checked: DNS may answer differently later. `events.allowPrivateUrls` turns it off
 * (a subscriber on the same network on purpose; the tests' local subscriber).
 */

/** The code of the error a delivery fails with when its host is not public. */
export const PRIVATE_ADDRESS = 'ERR_HUB_PRIVATE_ADDRESS';

export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  // process() turns an IPv4-mapped IPv6 address into the IPv4 one it carries.
  return ipaddr.process(address).range() === 'unicast';
}

/** The host of a URL as an address, if it is written as one ([::1] without its brackets). */
function literalHost(url: URL): string | null {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return ipaddr.isValid(host) ? host : null;
}

function refused(host: string, address: string): string {
  return `${host} is${host === address ? '' : ` at ${address},`} a loopback, private, link-local or reserved address; set events.allowPrivateUrls to allow it`;
}

export type UrlGuard = {
  /** At POST/PATCH: a 400 for a URL whose host is, or now resolves to, an address that is not public. A name that does not resolve now is checked at delivery. */
  check(url: string): Promise<void>;
  /** At delivery: why the URL's literal address may not be reached, or null. */
  refusedLiteral(url: string): string | null;
  /** At delivery, as axios' `lookup`: the name's addresses, or PRIVATE_ADDRESS if any is not public. */
  lookup: ((hostname: string, options: object) => Promise<[{ address: string; family: 4 | 6 }[]]>) | undefined;
};

export function createUrlGuard(options: { allowPrivate: boolean; resolve?: (host: string) => Promise<{ address: string; family: number }[]> }): UrlGuard {
  const resolve = options.resolve ?? ((host: string) => dns.lookup(host, { all: true, verbatim: true }));
  if (options.allowPrivate) return { check: async () => undefined, refusedLiteral: () => null, lookup: undefined };

  async function check(url: string): Promise<void> {
    const parsed = new URL(url);
    const literal = literalHost(parsed);
    let addresses: string[];
    if (literal !== null) addresses = [literal];
    else {
      try {
        addresses = (await resolve(parsed.hostname)).map((a) => a.address);
      } catch {
        return;
      }
    }
    const bad = addresses.find((a) => !isPublicAddress(a));
    if (bad !== undefined) throw new HubError('VALIDATION', `/url: ${refused(parsed.hostname, bad)}`, { errors: [{ path: '/url', message: 'not a public address' }] });
  }

  function refusedLiteral(url: string): string | null {
    const parsed = new URL(url);
    const literal = literalHost(parsed);
    return literal !== null && !isPublicAddress(literal) ? refused(parsed.hostname, literal) : null;
  }

  async function lookup(hostname: string): Promise<[{ address: string; family: 4 | 6 }[]]> {
    const addresses = await resolve(hostname);
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad !== undefined) throw Object.assign(new Error(refused(hostname, bad.address)), { code: PRIVATE_ADDRESS });
    return [addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))];
  }

  return { check, refusedLiteral, lookup };
}
