// OAuth 2.0 token endpoint, client-credentials grant only (the flow every UAPI client uses,
// reference §1.2). Encapsulated: form parsing and the OAuth error envelope stay in this scope.
import formbody from '@fastify/formbody'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { Directory } from '../directory/index.ts'
import { OAuthError } from './errors.ts'
import { DEFAULT_SCRYPT_COST, hashSecret, parseSecretHash, verifySecret } from './secret-hash.ts'
import type { TokenService } from './tokens.ts'

export interface TokenRouteOptions {
  readonly tokens: TokenService
  readonly directory: Directory
}

// Extra fields clients send (redirect_uri, type=unifiedapi, state=0) are accepted and ignored.
const TokenRequest = Type.Object({
  grant_type: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  client_secret: Type.Optional(Type.String())
})

const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer()
})

const OAuthErrorBody = Type.Object({
  error: Type.String(),
  error_description: Type.Optional(Type.String())
})

const schema = {
  body: TokenRequest,
  response: { 200: TokenResponse, 400: OAuthErrorBody, 401: OAuthErrorBody, 429: OAuthErrorBody, 500: OAuthErrorBody }
}

const BASIC = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i

export const tokenRoutes: FastifyPluginAsyncTypebox<TokenRouteOptions> = async function tokenRoutes (app, { tokens, directory }) {
  await app.register(formbody)
  app.setErrorHandler(renderOAuthError)

  // Unknown client ids are checked against this throw-away hash, so "no such client" costs the
  // same scrypt work as "wrong secret" and both give the same answer. Same cost as the apps' hashes.
  const firstHash = directory.allApps()[0]?.secretHash
  const dummyHash = await hashSecret('not-a-client-secret', (firstHash === undefined ? undefined : parseSecretHash(firstHash)?.cost) ?? DEFAULT_SCRYPT_COST)

  for (const url of ['/oauth/token', '/oauth/token.php']) {
    // 'credentials': the strict per-IP and per-client_id rate limits of src/http/security.ts.
    app.post(url, { schema, config: { rateLimitPolicy: 'credentials' } }, async function issueToken (request, reply) {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
      const body = request.body
      if (body.grant_type === undefined || body.grant_type === '') throw new OAuthError('invalid_request', 'grant_type is required.')
      if (body.grant_type !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'Only client_credentials is supported.')

      const basic = parseBasic(request.headers.authorization)
      if (basic === null) throw new OAuthError('invalid_request', 'Malformed Basic authorization header.')
      let clientId = body.client_id
      let secret = body.client_secret
      if (basic !== undefined) {
        // RFC 6749 §2.3: one authentication method per request.
        if (secret !== undefined || (clientId !== undefined && clientId !== basic.id)) {
          throw new OAuthError('invalid_request', 'Use either HTTP Basic or body credentials, not both.')
        }
        clientId = basic.id
        secret = basic.secret
      }
      if (clientId === undefined || clientId === '' || secret === undefined || secret === '') {
        throw new OAuthError('invalid_request', 'client_id and client_secret are required.')
      }

      const client = directory.app(clientId)
      const valid = await verifySecret(secret, client?.secretHash ?? dummyHash)
      if (client === undefined || !valid) {
        request.log.info({ clientId: client === undefined ? undefined : clientId }, 'client authentication failed')
        throw new OAuthError('invalid_client', 'Client authentication failed.', basic !== undefined)
      }
      const issued = tokens.issue(client)
      request.log.info({ clientId, userId: client.userId }, 'access token issued')
      return { access_token: issued.accessToken, token_type: 'Bearer' as const, expires_in: issued.expiresIn }
    })
  }
}

/** undefined: no Basic header; null: a Basic header we cannot read. */
export function parseBasic (header: string | undefined): { id: string, secret: string } | null | undefined {
  if (header === undefined || !/^Basic\b/i.test(header)) return undefined
  const match = BASIC.exec(header)
  if (match === null) return null
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return null
  // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
  const id = formDecode(decoded.slice(0, colon))
  const secret = formDecode(decoded.slice(colon + 1))
  return id === undefined || secret === undefined ? null : { id, secret }
}

function formDecode (s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    return undefined
  }
}

function renderOAuthError (err: FastifyError | OAuthError, request: FastifyRequest, reply: FastifyReply) {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
  if (err instanceof OAuthError) {
    if (err.basicChallenge) reply.header('www-authenticate', 'Basic realm="uapi"')
    return reply.code(err.statusCode).send({ error: err.error, error_description: err.message })
  }
  const status = err.statusCode ?? 500
  // Rate limited (src/http/security.ts): kept 429 with Retry-After, in the OAuth envelope so OAuth
  // client libraries can read it; "rate_limited" is the UAPI code (RFC 6749 has none for this).
  if (status === 429) return reply.code(429).send({ error: 'rate_limited', error_description: err.message })
  // Body validation, unreadable JSON, unsupported media type, body too large: all a bad request.
  if (status >= 400 && status < 500) {
    return reply.code(400).send({ error: 'invalid_request', error_description: 'Malformed token request.' })
  }
  request.log.error({ err }, 'token endpoint failure')
  return reply.code(500).send({ error: 'server_error' })
}
