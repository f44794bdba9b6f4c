// One place writes the UAPI error envelope {"error":{"code","message"}}. Catalogued errors keep
// their code; schema validation failures map to the field's UAPI code through the route's
// config.errorCodes; AMI failures become 503/502; anything else is logged and answered as a 500.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AmiErrorCodes, isAmiError } from '../ami/index.ts'
import { CallActionError } from '../calls/index.ts'
import { StorageUnavailableError } from '../storage/index.ts'
import { UAPI_ERRORS, UapiError, isUapiError, type UapiErrorCode } from './errors.ts'

/** Route config: maps "<context><instancePath prefix>" (e.g. "querystring/count", "body/callerId") to a code. */
export interface UapiRouteConfig {
  errorCodes?: Readonly<Record<string, UapiErrorCode>>
}

declare module 'fastify' {
  interface FastifyContextConfig {
    errorCodes?: Readonly<Record<string, UapiErrorCode>>
  }
}

export function toUapiError (err: FastifyError | Error, request: FastifyRequest): UapiError {
  if (isUapiError(err)) return err
  if (err instanceof CallActionError) return new UapiError(err.code, err.clientMessage, { cause: err })
  if (err instanceof StorageUnavailableError) return new UapiError('storage_unavailable', undefined, { cause: err })
  const e = err as FastifyError & { validationContext?: string }
  if (e.code === 'access_denied') return new UapiError('access_denied', undefined, { cause: err })
  if (e.validation !== undefined) return fromValidation(e, request)
  if (isAmiError(err)) {
    switch (err.code) {
      case AmiErrorCodes.ACTION_FAILED: return new UapiError('pc_action_failed', `The PBX refused the operation: ${err.amiMessage ?? 'error'}.`, { cause: err })
      case AmiErrorCodes.BAD_HEADER: return new UapiError('request_invalid', 'The request contains characters that cannot be sent to the PBX.', { cause: err })
      // Sent, never confirmed: it may still be carried out, so "retry shortly" would be wrong.
      case AmiErrorCodes.TIMEOUT: return new UapiError('pbx_timeout', undefined, { cause: err })
      default: return new UapiError('pbx_unavailable', undefined, { cause: err })
    }
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return new UapiError('payload_too_large', undefined, { cause: err })
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return new UapiError('media_type_unsupported', undefined, { cause: err })
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new UapiError('request_invalid', 'The request body is not valid JSON.', { cause: err })
    case 'FST_ERR_RATE_LIMITED': return new UapiError('rate_limited', undefined, { cause: err })
    // Router refusals (reach the handler through Fastify's frameworkErrors option, see app.ts).
    case 'FST_ERR_BAD_URL': return new UapiError('request_invalid', 'The request path is not a valid URL.', { cause: err })
    case 'FST_ERR_MAX_PARAM_LENGTH': return new UapiError('request_invalid', 'A path segment is too long.', { cause: err })
  }
  if (e.statusCode === 429) return new UapiError('rate_limited', undefined, { cause: err })
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 413) return new UapiError('payload_too_large', undefined, { cause: err })
    if (e.statusCode === 415) return new UapiError('media_type_unsupported', undefined, { cause: err })
    return new UapiError('request_invalid', undefined, { cause: err })
  }
  return new UapiError('internal_server_error', undefined, { cause: err })
}

function fromValidation (err: FastifyError & { validationContext?: string }, request: FastifyRequest): UapiError {
  const first = err.validation?.[0]
  const context = err.validationContext ?? ''
  // "/phoneCallView/0/source" -> "body/phoneCallView"; a missing required property names itself.
  const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty
  const path = (first?.instancePath ?? '').split('/').filter((s) => s !== '')
  const field = path[0] ?? missing ?? ''
  const codes = request.routeOptions.config.errorCodes
  const code = codes?.[`${context}/${field}`] ?? codes?.[context] ?? 'request_invalid'
  const message = code === 'request_invalid' ? `Invalid ${context}${field !== '' ? ` field ${field}` : ''}: ${first?.message ?? 'malformed'}.` : UAPI_ERRORS[code][1]
  return new UapiError(code, message, { cause: err })
}

export function uapiErrorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const uapi = toUapiError(err, request)
  // The error log is for the engine's and the PBX's failures. A client asking for something the
  // engine does not do (501) or may not do (4xx) is routine: info, one line, no stack.
  if (uapi.statusCode >= 500 && uapi.code !== 'request_not_implemented') request.log.error({ err }, 'request failed')
  else request.log.info({ code: uapi.code, cause: (uapi.cause as Error | undefined)?.message }, 'request refused')
  if (uapi.code === 'pbx_unavailable' || uapi.code === 'storage_unavailable') void reply.header('retry-after', '2')
  void reply.status(uapi.statusCode).send({ error: { code: uapi.code, message: uapi.message } })
}

export function uapiNotFoundHandler (request: FastifyRequest, reply: FastifyReply): void {
  void reply.status(404).send({ error: { code: 'resource_not_found', message: `No route for ${request.method} ${request.url.split('?')[0]}.` } })
}
