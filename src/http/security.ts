// HTTP hardening for the whole app: security headers, CORS for configured origins only, and rate
// limits (the body-size cap is Fastify's bodyLimit, set in app.ts). Wrapped in fastify-plugin so its
// hooks sit at the root and run before any route's own hooks: the rate limit counts a request before
// the UAPI context's bearer check can refuse it, so bad tokens are limited too.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import helmet from 'helmet'
import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import type { Config } from '../config.ts'
import { parseBasic } from '../auth/index.ts'
import { UapiError } from '../uapi/errors.ts'

export const RATE_LIMIT_DEFAULTS = { max: 600, timeWindowMs: 60_000, tokenMax: 20 } as const

/**
 * The CSP of the Swagger UI pages under /docs (given to @fastify/swagger-ui as `staticCSP`; every
 * other response gets the API's `default-src 'none'`). Swagger UI loads only same-origin scripts and
 * stylesheets but sets inline style attributes, hence 'unsafe-inline' for styles alone. No
 * upgrade-insecure-requests: the engine is often reached over plain HTTP on a LAN, where it would
 * break the page's own assets.
 */
export const DOCS_CSP = "default-src 'self'; base-uri 'self'; connect-src 'self'; font-src 'self' data:; form-action 'self'; frame-ancestors 'none'; img-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'"

export interface SecurityPluginOptions {
  readonly http: Config['http']
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'credentials': the route checks client secrets (token endpoint), so it gets the strict limits. */
    rateLimitPolicy?: 'credentials'
  }
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>

/**
 * helmet's headers for a JSON API: nothing may be loaded, framed or run from a response. Kept: CSP,
 * HSTS, nosniff, frame, referrer and cross-origin-resource policies. Dropped: headers that mean
 * nothing for JSON (IE's X-Download-Options, Flash's cross-domain policies, the retired XSS filter,
 * DNS prefetch, origin-agent-cluster, COOP): bytes and work on every response for no defence.
 * helmet is run once against a recorder; /docs overrides the CSP with its own (DOCS_CSP).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = (() => {
  const recorded: Record<string, string> = {}
  const res = {
    setHeader (name: string, value: string | number | readonly string[]) { recorded[name.toLowerCase()] = String(value) },
    removeHeader () {}
  }
  helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false
  })({} as never, res as never, () => {})
  return Object.freeze(recorded)
})()

async function security (app: FastifyInstance, { http }: SecurityPluginOptions) {
  // The same security headers on every response, computed once: @fastify/helmet rebuilt helmet's
  // middleware (parsing its options) on every request.
  const headers = SECURITY_HEADERS
  app.addHook('onRequest', async (_request, reply) => { reply.headers(headers) })

  const origins = http.cors?.origins ?? []
  if (origins.length > 0) {
    await app.register(cors, {
      origin: origins.includes('*') ? '*' : [...origins],
      methods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Accept'],
      exposedHeaders: ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
      // Bearer tokens, never cookies: browsers must not send ambient credentials.
      credentials: false,
      maxAge: 600
    })
  }

  // The plugin provides the counting stores; the hooks below decide which limit applies, so that
  // one request is counted once, by the right key, before any other hook can refuse it.
  await app.register(rateLimit, { global: false })
  const { max, timeWindowMs, tokenMax } = { ...RATE_LIMIT_DEFAULTS, ...http.rateLimit }
  const general = app.createRateLimit({ max, timeWindow: timeWindowMs, keyGenerator: appOrIp })
  const credentialsByIp = app.createRateLimit({ max: tokenMax, timeWindow: timeWindowMs, keyGenerator: (r) => `ip:${r.ip}` })
  const credentialsByClient = app.createRateLimit({ max: tokenMax, timeWindow: timeWindowMs, keyGenerator: (r) => `client:${clientIdOf(r) ?? ''}` })

  app.addHook('onRequest', async (request, reply) => {
    await enforce(request.routeOptions.config.rateLimitPolicy === 'credentials' ? credentialsByIp : general, request, reply)
  })
  // Per client_id as well, so guessing one app's secret from many addresses is capped too. The id is
  // in the body, hence preHandler. Cost: anyone can spend an app's budget by naming it; legitimate
  // apps ask for a token about once per token lifetime, so a lock-out lasts one window at most.
  app.addHook('preHandler', async (request, reply) => {
    if (request.routeOptions.config.rateLimitPolicy === 'credentials' && clientIdOf(request) !== undefined) {
      await enforce(credentialsByClient, request, reply)
    }
  })
}

/** Per app when the request carries a valid bearer token (its client id), else per client IP. */
function appOrIp (request: FastifyRequest): string {
  try {
    // An HMAC check, cheap next to the request; an invalid token just falls back to the IP key.
    // The verified principal is kept on the request so the UAPI bearer hook does not verify twice.
    request.principal ??= request.server.authenticate(request)
    return `app:${request.principal.clientId}`
  } catch {
    return `ip:${request.ip}`
  }
}

/** The client_id a token request names, read the way the token route reads it. */
function clientIdOf (request: FastifyRequest): string | undefined {
  const basic = parseBasic(request.headers.authorization)
  if (basic !== undefined && basic !== null) return basic.id
  const body = request.body as { client_id?: unknown } | null | undefined
  return typeof body?.client_id === 'string' && body.client_id !== '' ? body.client_id : undefined
}

async function enforce (limit: Limiter, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const r = await limit(request)
  if (r.isAllowed) return
  void reply.header('x-ratelimit-limit', r.max).header('x-ratelimit-remaining', r.remaining).header('x-ratelimit-reset', r.ttlInSeconds)
  if (r.isExceeded) {
    void reply.header('retry-after', r.ttlInSeconds)
    // Rendered by the route's error handler: UAPI envelope, or the OAuth one on /oauth/token.
    throw new UapiError('rate_limited', `Too many requests; retry in ${r.ttlInSeconds} s.`)
  }
}

export const securityPlugin = fp(security, { name: 'uapi-http-security', fastify: '5.x' })
