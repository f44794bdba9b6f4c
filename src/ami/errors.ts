import type { AmiResponse } from './types.ts'

/** Every failure the AMI layer reports carries one of these codes (checked by callers, not messages). */
export const AmiErrorCodes = {
  /** The client is not logged in (connecting, backing off, auth-failed, closed): nothing was sent. */
  NOT_CONNECTED: 'AMI_ERR_NOT_CONNECTED',
  /** No reply (or, for a list, no Complete event) within the action's deadline. */
  TIMEOUT: 'AMI_ERR_TIMEOUT',
  /** Asterisk answered `Response: Error` (or another non-success response); see `amiMessage`. */
  ACTION_FAILED: 'AMI_ERR_ACTION_FAILED',
  /** Asterisk refused the credentials. */
  AUTH: 'AMI_ERR_AUTH',
  /** A header name or value would break the wire format (CR, LF, other control characters...). */
  BAD_HEADER: 'AMI_ERR_BAD_HEADER',
  /** The socket went away while the action was outstanding; it was NOT replayed. */
  CONNECTION_LOST: 'AMI_ERR_CONNECTION_LOST',
  /** Too many actions in flight (maxPending) or the socket's write buffer is full. */
  OVERLOADED: 'AMI_ERR_OVERLOADED'
} as const

export type AmiErrorCode = (typeof AmiErrorCodes)[keyof typeof AmiErrorCodes]

export interface AmiErrorDetails {
  readonly action?: string
  readonly actionId?: string
  readonly response?: AmiResponse
  readonly cause?: unknown
}

/** One class for all AMI failures; `code` tells them apart (a small class rather than @fastify/error
 *  because callers need the typed extras: the action, its ActionID and Asterisk's response). */
export class AmiError extends Error {
  readonly code: AmiErrorCode
  /** Action name the error is about, when there is one. */
  readonly action: string | undefined
  readonly actionId: string | undefined
  /** Asterisk's reply, for ACTION_FAILED and AUTH. */
  readonly response: AmiResponse | undefined
  /** Asterisk's `Message:` (e.g. 'No such channel'), for ACTION_FAILED and AUTH. */
  readonly amiMessage: string | undefined

  constructor (code: AmiErrorCode, message: string, details: AmiErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'AmiError'
    this.code = code
    this.action = details.action
    this.actionId = details.actionId
    this.response = details.response
    this.amiMessage = details.response?.message
  }
}

export function isAmiError (err: unknown, code?: AmiErrorCode): err is AmiError {
  return err instanceof AmiError && (code === undefined || err.code === code)
}
