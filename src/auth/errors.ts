// Errors the auth layer throws. AccessDeniedError is rendered by the UAPI error handler (which
// catalogues it); OAuthError only by the token route's own handler (RFC 6749 §5.2 envelope).
import createError from '@fastify/error'

const AccessDeniedBase = createError('access_denied', 'You are not authorized to use this request.', 401)

/**
 * 401 `access_denied`: missing, malformed, tampered or expired token, or an unknown app/user.
 * The message is fixed so it reveals nothing; the reason travels as `cause`, for logs only.
 */
export class AccessDeniedError extends AccessDeniedBase {
  // @fastify/error upper-cases codes ("ACCESS_DENIED"); UAPI codes are lower-case on the wire.
  override code = 'access_denied' as const
}

export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type'

export class OAuthError extends Error {
  override readonly name = 'OAuthError'
  readonly statusCode: 400 | 401
  constructor (
    readonly error: OAuthErrorCode,
    description: string,
    /** Client authenticated with HTTP Basic: a 401 must then carry WWW-Authenticate (RFC 6749 §5.2). */
    readonly basicChallenge = false
  ) {
    super(description)
    this.statusCode = error === 'invalid_client' ? 401 : 400
  }
}
