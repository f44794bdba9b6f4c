// The auth plugin: token endpoint routes plus the `authenticate` decorator used by UAPI routes.
// Wrapped in fastify-plugin so the decorators reach the parent; the token routes stay encapsulated.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config.ts'
import type { Directory, Principal } from '../directory/index.ts'
import { createAuthenticator, type Authenticator } from './bearer.ts'
import { tokenRoutes } from './token-route.ts'
import { createTokenService } from './tokens.ts'

export interface AuthPluginOptions {
  readonly security: Config['security']
  readonly directory: Directory
  /** Clock in ms (tests). */
  readonly now?: () => number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Verifies the request's bearer token; returns the Principal or throws AccessDeniedError. */
    authenticate: Authenticator
  }
  interface FastifyRequest {
    /** Set by `requireAuth`; null on routes that do not use it. */
    principal: Principal | null
  }
}

async function auth (app: FastifyInstance, opts: AuthPluginOptions) {
  const tokens = createTokenService({ secret: opts.security.tokenSecret, ttlSeconds: opts.security.tokenTtlSeconds, now: opts.now })
  app.decorate('authenticate', createAuthenticator(tokens, opts.directory))
  app.decorateRequest('principal', null)
  await app.register(tokenRoutes, { tokens, directory: opts.directory })
}

export const authPlugin = fp(auth, { name: 'uapi-auth', fastify: '5.x' })

/** onRequest hook for protected routes: `app.addHook('onRequest', requireAuth)` in the UAPI scope. */
export async function requireAuth (request: FastifyRequest): Promise<void> {
  // The rate limiter may already have verified this request's token (src/http/security.ts).
  request.principal ??= request.server.authenticate(request)
}

/** The principal of a request that passed `requireAuth`. */
export function principalOf (request: FastifyRequest): Principal {
  // A programming error (route outside the authenticated scope), not a client one: fail loudly.
  if (request.principal === null) throw new Error('principalOf() on a route without requireAuth')
  return request.principal
}
