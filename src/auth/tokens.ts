// Stateless access tokens: HS256 JWTs signed with security.tokenSecret, so any engine instance
// sharing the config accepts any other's tokens. Signer and verifier are built once.
import { createHmac, randomUUID } from 'node:crypto'
import { createSigner, createVerifier } from 'fast-jwt'
import type { App } from '../directory/index.ts'
import { AccessDeniedError } from './errors.ts'

export interface TokenClaims {
  /** User id, as a string (JWT `sub` is a string). */
  readonly sub: string
  /** Client id of the app the token was issued to. */
  readonly cid: string
  readonly aud: string
  readonly iat: number
  readonly exp: number
  readonly jti: string
  /** Which secret of the app the token was issued under (see TokenService.appKeyVersion). */
  readonly akv: string
}

export interface IssuedToken {
  readonly accessToken: string
  readonly expiresIn: number
}

type TokenApp = Pick<App, 'clientId' | 'userId' | 'secretHash'>

export interface TokenService {
  issue (app: TokenApp): IssuedToken
  /**
   * A short fingerprint of the app's current secret (an HMAC of its stored hash under the token key):
   * a token carries the one it was issued under, so changing an app's secret invalidates its tokens
   * the moment the directory has the new hash, on every instance sharing the config.
   */
  appKeyVersion (app: TokenApp): string
  /** Returns the claims of a valid, unexpired token; throws AccessDeniedError (reason in `cause`). */
  verify (token: string): TokenClaims
}

export interface TokenServiceOptions {
  readonly secret: string
  readonly ttlSeconds: number
  /** Clock in ms, injectable so tests can expire tokens without waiting. */
  readonly now?: () => number
}

// Binds tokens to this API, so a JWT minted with the same key for another purpose is refused.
const AUDIENCE = 'uapi'

export function createTokenService ({ secret, ttlSeconds, now = Date.now }: TokenServiceOptions): TokenService {
  // iat/exp come from our own (injectable) clock in the payload; expiry is checked against it below.
  const sign = createSigner({ key: secret, algorithm: 'HS256' })
  const decode = createVerifier({
    key: secret,
    algorithms: ['HS256'],
    allowedAud: AUDIENCE,
    ignoreExpiration: true,
    requiredClaims: ['sub', 'cid', 'aud', 'iat', 'exp', 'akv'],
    // Clients reuse a token for its whole hour: an LRU of verified tokens turns the per-request HMAC
    // and JSON parse into a lookup (expiry is still checked below on every request).
    cache: 10_000
  })

  // Per app record (the directory swaps records on reload): one HMAC per secret, not per request.
  const versions = new WeakMap<TokenApp, string>()
  const appKeyVersion = (app: TokenApp): string => {
    let v = versions.get(app)
    if (v === undefined) {
      v = createHmac('sha256', secret).update(`akv\0${app.clientId}\0${app.secretHash}`).digest('base64url').slice(0, 16)
      versions.set(app, v)
    }
    return v
  }

  return {
    appKeyVersion,
    issue (app) {
      const iat = Math.floor(now() / 1000)
      const claims: TokenClaims = { sub: String(app.userId), cid: app.clientId, aud: AUDIENCE, iat, exp: iat + ttlSeconds, jti: randomUUID(), akv: appKeyVersion(app) }
      return { accessToken: sign(claims), expiresIn: ttlSeconds }
    },
    verify (token) {
      let claims: unknown
      try {
        claims = decode(token)
      } catch (err) {
        throw new AccessDeniedError({ cause: err })
      }
      if (!isClaims(claims)) throw new AccessDeniedError({ cause: new Error('token claims have the wrong types') })
      if (claims.exp <= Math.floor(now() / 1000)) throw new AccessDeniedError({ cause: new Error('token expired') })
      return claims
    }
  }
}

function isClaims (value: unknown): value is TokenClaims {
  if (value === null || typeof value !== 'object') return false
  const c = value as Record<string, unknown>
  return typeof c.sub === 'string' && typeof c.cid === 'string' && typeof c.akv === 'string' && Number.isInteger(c.iat) && Number.isInteger(c.exp)
}
