// The SSRF guard for callback URLs: http(s) only, and every address the host resolves to must be
// public (not loopback, private, link-local, unspecified, multicast, CGNAT or reserved), unless
// config events.allowedTargets lists it (CIDRs, IPs or host names). Checked when a subscription is
// saved, and again at every delivery through `lookup`, the resolver the HTTP request connects with:
// the address that was checked is the address connected to, so DNS rebinding cannot slip past.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'

export type TargetRefusal = 'url' | 'forbidden' | 'unresolvable'

export type TargetCheck =
  | { readonly ok: true, readonly url: URL }
  | { readonly ok: false, readonly reason: TargetRefusal, readonly detail: string }

export const MAX_URL_LENGTH = 2048

// IANA special-purpose ranges a webhook must not reach.
const BLOCKED_V4 = [
  '0.0.0.0/8', // "this network", unspecified
  '10.0.0.0/8', // RFC 1918
  '100.64.0.0/10', // CGNAT (RFC 6598)
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local (cloud metadata at 169.254.169.254)
  '172.16.0.0/12', // RFC 1918
  '192.0.0.0/24', // IETF protocol assignments
  '192.168.0.0/16', // RFC 1918
  '198.18.0.0/15', // benchmarking
  '224.0.0.0/4', // multicast
  '240.0.0.0/4' // reserved, broadcast
]
const BLOCKED_V6 = [
  '::/128', // unspecified
  '::1/128', // loopback
  'fc00::/7', // unique local
  'fe80::/10', // link-local
  'ff00::/8', // multicast
  '100::/64', // discard
  '2001:db8::/32' // documentation
]

type Resolver = (host: string) => Promise<LookupAddress[]>

const systemResolver: Resolver = async (host) => await new Promise((resolve, reject) => {
  dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => { if (err !== null) reject(err); else resolve(addresses) })
})

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) IPv6 address. */
function embeddedV4 (address: string): string | undefined {
  const lower = address.toLowerCase()
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (dotted !== null) return dotted[1]
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower)
  if (hex !== null) return hexToV4(hex[1] as string, hex[2] as string)
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4}):/.exec(lower)
  if (sixToFour !== null) return hexToV4(sixToFour[1] as string, sixToFour[2] as string)
  return undefined
}

function hexToV4 (hi: string, lo: string): string {
  const a = parseInt(hi, 16)
  const b = parseInt(lo, 16)
  return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`
}

export class TargetGuard {
  readonly #blocked = new BlockList()
  readonly #allowed = new BlockList()
  readonly #allowedHosts = new Set<string>()
  readonly #resolve: Resolver

  /** `allowed`: config events.allowedTargets. `resolve`: tests may give their own DNS. */
  constructor (allowed: readonly string[] = [], resolve: Resolver = systemResolver) {
    for (const cidr of BLOCKED_V4) this.#addSubnet(this.#blocked, cidr, 'ipv4')
    for (const cidr of BLOCKED_V6) this.#addSubnet(this.#blocked, cidr, 'ipv6')
    for (const entry of allowed) {
      const [address, bits] = entry.split('/') as [string, string | undefined]
      const family = isIP(address.replace(/^\[|\]$/g, ''))
      if (family === 0) {
        this.#allowedHosts.add(entry.toLowerCase().replace(/\.$/, ''))
      } else {
        const ip = address.replace(/^\[|\]$/g, '')
        const type = family === 4 ? 'ipv4' : 'ipv6'
        if (bits === undefined) this.#allowed.addAddress(ip, type)
        else this.#allowed.addSubnet(ip, Number(bits), type)
      }
    }
    this.#resolve = resolve
  }

  #addSubnet (list: BlockList, cidr: string, type: 'ipv4' | 'ipv6'): void {
    const [net, bits] = cidr.split('/') as [string, string]
    list.addSubnet(net, Number(bits), type)
  }

  /** Why an address may not be called, or undefined when it may. */
  forbidden (address: string): string | undefined {
    const family = isIP(address)
    if (family === 0) return `${address} is not an IP address`
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (this.#allowed.check(address, type)) return undefined
    const v4 = family === 6 ? embeddedV4(address) : undefined
    if (v4 !== undefined) return this.forbidden(v4) === undefined ? undefined : `${address} embeds the non-public ${v4}`
    return this.#blocked.check(address, type) ? `${address} is not a public address` : undefined
  }

  /** Parses a callback URL and checks it (syntax, scheme, every address its host resolves to). */
  async check (raw: string): Promise<TargetCheck> {
    const url = parseTarget(raw)
    if (typeof url === 'string') return { ok: false, reason: 'url', detail: url }
    const host = hostOf(url)
    if (this.#allowedHosts.has(host)) return { ok: true, url }
    let addresses: LookupAddress[]
    try {
      addresses = isIP(host) !== 0 ? [{ address: host, family: isIP(host) }] : await this.#resolve(host)
    } catch (err) {
      return { ok: false, reason: 'unresolvable', detail: `${host} does not resolve: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }
    }
    if (addresses.length === 0) return { ok: false, reason: 'unresolvable', detail: `${host} has no address` }
    for (const a of addresses) {
      const why = this.forbidden(a.address)
      if (why !== undefined) return { ok: false, reason: 'forbidden', detail: `${host}: ${why}` }
    }
    return { ok: true, url }
  }

  /**
   * A `lookup` for http.request: resolves like the system does, and fails the connection (error
   * code ETARGETFORBIDDEN) when any address is not allowed. Handles `all: true` (Node's
   * autoSelectFamily asks for every address).
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
    const done = (addresses: LookupAddress[]): void => {
      if (!this.#allowedHosts.has(host)) {
        for (const a of addresses) {
          const why = this.forbidden(a.address)
          if (why !== undefined) {
            const err: NodeJS.ErrnoException = new Error(`callback target refused: ${host}: ${why}`)
            err.code = 'ETARGETFORBIDDEN'
            callback(err, '', 4)
            return
          }
        }
      }
      const first = addresses[0]
      if (first === undefined) {
        const err: NodeJS.ErrnoException = new Error(`${host} has no address`)
        err.code = 'ENOTFOUND'
        callback(err, '', 4)
        return
      }
      if (options.all === true) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses)
      else callback(null, first.address, first.family)
    }
    if (isIP(host) !== 0) {
      done([{ address: host, family: isIP(host) }])
      return
    }
    this.#resolve(host).then(done, (err: NodeJS.ErrnoException) => { callback(err, '', 4) })
  }
}

/** The URL, or why it is not a usable callback URL. */
export function parseTarget (raw: string): URL | string {
  if (raw.length === 0 || raw.length > MAX_URL_LENGTH) return `the URL must be 1 to ${MAX_URL_LENGTH} characters`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(raw)) return 'the URL contains spaces or control characters (encode them, RFC 3986)'
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'not an absolute URL'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'only http and https URLs are allowed'
  if (url.hostname === '') return 'the URL has no host'
  return url
}

/** The host as resolvers and BlockList see it: lower case, no IPv6 brackets, no trailing dot. */
export function hostOf (url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase()
}
