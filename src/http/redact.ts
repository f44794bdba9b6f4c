// What the logs must never carry: credentials. The one rule for every log line the engine writes
// (request lines, error lines, any object logged with a known credential key): applied in
// buildApp to whatever logger it is given.
import type { IncomingMessage } from 'node:http'

/** Query parameters that carry credentials (UAPI's accessRequestToken, OAuth's names, generic ones). */
const CREDENTIAL_PARAMS: ReadonlySet<string> = new Set(['accessrequesttoken', 'access_token', 'token', 'client_secret', 'secret', 'password', 'key', 'signature'])

export const REDACTED = '[redacted]'

/** pino `redact` paths: credentials in headers, bodies and any logged object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.query.accessRequestToken',
  'headers.authorization',
  'authorization',
  'secret', '*.secret',
  'client_secret', '*.client_secret',
  'access_token', '*.access_token',
  'accessRequestToken', '*.accessRequestToken',
  'password', '*.password'
]

/** The URL with the value of every credential query parameter replaced (names kept, so the log still says one was sent). */
export function redactUrl (url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const parts = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=')
    const name = eq < 0 ? pair : pair.slice(0, eq)
    let decoded = name
    try { decoded = decodeURIComponent(name) } catch { /* a malformed name is logged as it came */ }
    return eq >= 0 && CREDENTIAL_PARAMS.has(decoded.toLowerCase()) ? `${name}=${REDACTED}` : pair
  })
  return `${url.slice(0, q)}?${parts.join('&')}`
}

/** Fastify's request serializer, without credentials in the URL. */
export function serializeRequest (req: IncomingMessage & { ip?: string, host?: string, socket?: { remotePort?: number } }): Record<string, unknown> {
  return {
    method: req.method,
    url: redactUrl(req.url ?? ''),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort
  }
}
