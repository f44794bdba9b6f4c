// Turns a request's path (userId, extension) and token into what it may see and act on.
import type { FastifyRequest } from 'fastify'
import { principalOf } from '../auth/index.ts'
import { resolveScope, type Directory, type Principal, type Scope } from '../directory/index.ts'
import type { CallSelection } from '../calls/index.ts'
import { uapiError } from './errors.ts'

export interface RequestScope {
  readonly principal: Principal
  readonly scope: Scope
  readonly selection: CallSelection
  /** The extension the request is about, or undefined for @self. */
  readonly viewer: string | undefined
  /** Path segments for links: the resolved user id and the extension (or @self). */
  readonly userSegment: string
  readonly extensionSegment: string
}

export function requestScope (directory: Directory, request: FastifyRequest, userId: string, extension: string): RequestScope {
  const principal = principalOf(request)
  const scope = resolveScope(directory, principal, userId, extension)
  if (!scope.ok) throw uapiError(scope.code, undefined, new Error(scope.reason))
  const viewer = scope.allExtensions ? undefined : scope.extensions[0]?.number
  return {
    principal,
    scope,
    selection: selectionOf(scope),
    viewer,
    userSegment: String(scope.user.id),
    extensionSegment: viewer ?? '@self'
  }
}

function selectionOf (scope: Scope): CallSelection {
  if (scope.allExtensions) {
    if (scope.user.role === 'admin') return { kind: 'all' }
    if (scope.user.role === 'organization' && scope.user.organizationId !== undefined) {
      return { kind: 'organization', organizationId: String(scope.user.organizationId) }
    }
  }
  return { kind: 'extensions', extensions: scope.extensions.map((e) => e.number) }
}

/** Absolute base for links: the configured public URL, else what the client used to reach us. */
export function baseUrl (request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl !== undefined) return publicUrl.replace(/\/+$/, '')
  return `${request.protocol}://${request.host}`
}

/** Object-Id: alphanumeric (the PickUp page's rule for phoneCallId). */
export const PHONE_CALL_ID = /^[A-Za-z0-9]{1,128}$/
