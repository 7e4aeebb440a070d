/**
 * The network an address counts as for per-address limits: an IPv4 address
 * is itself (one customer, or one NAT), an IPv6 address is the prefix of
 * `ipv6Bits` bits it is in (a customer picks freely within their /64, so
 * keying each address would multiply every limit by 2^64).
 */
import ipaddr from 'ipaddr.js';

/** `1.2.3.4` → `1.2.3.4`; `2001:db8:1:2:a:b:c:d` with 64 bits → `2001:db8:1:2::/64`; anything unparsable as itself. */
export function networkOf(ip: string, ipv6Bits: number): string {
  if (!ipaddr.isValid(ip)) return ip;
  const parsed = ipaddr.parse(ip);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return prefixOf(v6, ipv6Bits);
}

/** The network of `bits` bits around an address, as `address/bits` (IPv4 `1.2.3.0/24`, IPv6 `2001:db8::/48`). */
export function prefixOf(address: ipaddr.IPv4 | ipaddr.IPv6, bits: number): string {
  const bytes = address.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return `${ipaddr.fromByteArray(bytes).toString()}/${bits}`;
}

/**
 * The wider network an address is in, for caps that must hold against many
 * neighbouring addresses at once (half-open upgrades): the IPv4 /24, the
 * IPv6 /48 (a site).
 */
export function wideNetworkOf(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  let parsed = ipaddr.parse(ip);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return prefixOf(parsed, parsed.kind() === 'ipv4' ? 24 : 48);
}
