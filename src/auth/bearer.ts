// Bearer-token checking for UAPI routes. Exported, never registered globally: the UAPI plugin adds
// `requireAuth` as an onRequest hook inside its own encapsulated context (style §5 practice 10).
import type { FastifyRequest } from 'fastify'
import type { Directory, Principal } from '../directory/index.ts'
import { AccessDeniedError } from './errors.ts'
import type { TokenService } from './tokens.ts'

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i
const BEARER_PREFIX = /^Bearer[ \t]+/i

/**
 * The token from `Authorization: Bearer <t>`, else from `?accessRequestToken=`. The docs want
 * `Bearer%20<t>` in the query, some clients send the bare token: both are accepted (reference §1.2).
 */
export function extractBearerToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header !== undefined) {
    const match = BEARER.exec(header)
    if (match !== null) return match[1]
  }
  const query = request.query
  if (query !== null && typeof query === 'object') {
    const value = (query as Record<string, unknown>).accessRequestToken
    // A repeated parameter (array) is ambiguous: refuse rather than pick one.
    if (typeof value === 'string') {
      const token = value.trim().replace(BEARER_PREFIX, '')
      if (token !== '') return token
    }
  }
  return undefined
}

export type Authenticator = (request: FastifyRequest) => Principal

/** Builds the check that turns a request into a Principal or throws AccessDeniedError. */
export function createAuthenticator (tokens: TokenService, directory: Directory): Authenticator {
  return function authenticate (request) {
    const token = extractBearerToken(request)
    if (token === undefined) throw new AccessDeniedError({ cause: new Error('no bearer token') })
    const claims = tokens.verify(token)
    // Tokens are stateless, but the directory is the authority: an app or user removed from the
    // config loses access at once, and an app must still belong to the token's user.
    const app = directory.app(claims.cid)
    const user = directory.user(Number(claims.sub))
    if (app === undefined || user === undefined || app.userId !== user.id) {
      throw new AccessDeniedError({ cause: new Error('token names an unknown app or user') })
    }
    // Issued under a secret the app no longer has: revoked by the secret change.
    if (tokens.appKeyVersion(app) !== claims.akv) throw new AccessDeniedError({ cause: new Error('the app\'s secret changed since the token was issued') })
    return { user, clientId: app.clientId, expiresAt: claims.exp * 1000 }
  }
}
