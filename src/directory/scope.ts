// Authority rules and UAPI path resolution (`/{userId}/{extension}`), as pure functions over the
// directory. Nothing here knows HTTP: failures are values the UAPI layer maps to its error catalogue.
//
// Authority: a user acts on its own extensions, an organization account on every extension of its
// organization, an admin on all of them.
//
// Decisions (the UAPI docs are silent, reference §8):
// - Numeric user ids compare as numbers: "0012" is user 12. VoipNow ids are integers and a
//   net2phone client sends "0241"; leading zeros are formatting, not a different account.
// - Unknown user id -> user_invalid for every caller, as documented ("not a known user id"); a
//   known user outside the caller's authority -> access_denied. A user id is a bare integer that
//   carries no organization, so this reveals only that the integer is allocated.
// - Extensions are hidden across organizations: an extension number carries its organization's
//   prefix, so a non-admin caller naming a number of another organization gets access_denied
//   whether it exists or not (user 40 cannot probe org 3's numbers). Within the caller's own
//   organization, a missing number is extension_invalid and someone else's is access_denied.
import type { Directory } from './directory.ts'
import type { Extension, Principal, User } from './types.ts'

export type ScopeErrorCode = 'user_invalid' | 'extension_invalid' | 'access_denied'

export interface ScopeFailure {
  readonly ok: false
  readonly code: ScopeErrorCode
  readonly statusCode: 400 | 401
  /** For logs only: never sent to the client, it may name things the caller must not learn. */
  readonly reason: string
}

export interface Scope {
  readonly ok: true
  /** The path's user after @me/@viewer/@owner/id resolution. */
  readonly user: User
  /** `@self`: every extension in the user's authority; otherwise the one named extension. */
  readonly extensions: readonly Extension[]
  /** True for `@self`. */
  readonly allExtensions: boolean
}

export type ScopeResult = Scope | ScopeFailure

const FULL_NUMBER = /^([0-9]+)\*[0-9]+$/
const SHORT_NUMBER = /^[0-9]+$/
// 15 digits stay exact as a JS number; anything longer cannot be a user id.
const USER_ID = /^[0-9]{1,15}$/

const fail = (code: ScopeErrorCode, reason: string): ScopeFailure =>
  ({ ok: false, code, statusCode: code === 'access_denied' ? 401 : 400, reason })

function userOf (actor: Principal | User): User {
  return 'user' in actor ? actor.user : actor
}

/** Whether the user (or the principal's user) may act on the extension. */
export function canActOn (actor: Principal | User, extension: Extension): boolean {
  const user = userOf(actor)
  switch (user.role) {
    case 'admin': return true
    case 'organization': return user.organizationId === extension.organizationId
    case 'user': return extension.ownerId === user.id
  }
}

/** Whether `actor` may act in the name of `target` (use `target` as the path user). */
export function hasAuthorityOver (actor: Principal | User, target: User): boolean {
  const user = userOf(actor)
  if (user.id === target.id || user.role === 'admin') return true
  return user.role === 'organization' && target.role !== 'admin' && target.organizationId === user.organizationId
}

/** Every extension the user may act on. */
export function extensionsInAuthority (directory: Directory, actor: Principal | User): readonly Extension[] {
  const user = userOf(actor)
  switch (user.role) {
    case 'admin': return directory.allExtensions()
    case 'organization': return user.organizationId === undefined ? [] : directory.extensionsOfOrganization(user.organizationId)
    case 'user': return directory.extensionsOfUser(user.id)
  }
}

/** Resolves the `{userId}` and `{extension}` path segments of a UAPI PhoneCalls route. */
export function resolveScope (
  directory: Directory,
  principal: Principal,
  userSegment: string,
  extensionSegment: string
): ScopeResult {
  const caller = principal.user
  let user: User

  switch (userSegment) {
    case '@me':
    case '@viewer':
      user = caller
      break
    case '@owner': {
      // Reference §8 leaves @owner + @self open: there is no single owner to pick, so it means the caller.
      if (extensionSegment === '@self') {
        user = caller
        break
      }
      const found = findExtension(directory, caller, extensionSegment, caller.organizationId)
      if (!found.ok) return found
      if (!canActOn(caller, found.extension)) return fail('access_denied', `caller ${caller.id} has no authority over ${found.extension.number}`)
      const owner = directory.user(found.extension.ownerId)
      if (owner === undefined) return fail('extension_invalid', `owner of ${found.extension.number} is missing`)
      return { ok: true, user: owner, extensions: [found.extension], allExtensions: false }
    }
    default: {
      if (!USER_ID.test(userSegment)) return fail('user_invalid', `malformed user segment ${JSON.stringify(userSegment)}`)
      const target = directory.user(Number(userSegment))
      if (target === undefined) return fail('user_invalid', `unknown user ${userSegment}`)
      if (!hasAuthorityOver(caller, target)) return fail('access_denied', `caller ${caller.id} has no authority over user ${target.id}`)
      user = target
    }
  }

  if (extensionSegment === '@self') {
    return { ok: true, user, extensions: extensionsInAuthority(directory, user), allExtensions: true }
  }
  // Short numbers are relative to the path user's organization (an admin has none: the caller's, if any).
  const found = findExtension(directory, caller, extensionSegment, user.organizationId ?? caller.organizationId)
  if (!found.ok) return found
  if (!canActOn(user, found.extension)) return fail('access_denied', `user ${user.id} has no authority over ${found.extension.number}`)
  return { ok: true, user, extensions: [found.extension], allExtensions: false }
}

/**
 * Resolves an extension named in a payload (`sendCallTo`, `transferNumber`...): full or short
 * number, existing, and in `orgId` (default: the principal's organization; an admin without an
 * organization may name any full number). Undefined otherwise: the caller picks its field's error.
 */
export function resolveTargetExtension (
  directory: Directory,
  principal: Principal,
  number: string,
  orgId: number | undefined = principal.user.organizationId
): Extension | undefined {
  const extension = directory.extension(number, { orgId })
  if (extension === undefined) return undefined
  return orgId === undefined || extension.organizationId === orgId ? extension : undefined
}

type Found = { readonly ok: true, readonly extension: Extension } | ScopeFailure

function findExtension (directory: Directory, caller: User, segment: string, shortOrgId: number | undefined): Found {
  const full = FULL_NUMBER.exec(segment)
  if (full !== null) {
    if (caller.role !== 'admin') {
      const own = caller.organizationId === undefined ? undefined : directory.organization(caller.organizationId)
      // Same answer for a foreign number that exists and one that does not: existence is not revealed.
      if (own?.extensionPrefix !== full[1]) return fail('access_denied', `${segment} is outside the caller's organization`)
    }
    const extension = directory.extension(segment)
    return extension === undefined ? fail('extension_invalid', `unknown extension ${segment}`) : { ok: true, extension }
  }
  if (SHORT_NUMBER.test(segment) && shortOrgId !== undefined) {
    const extension = directory.extension(segment, { orgId: shortOrgId })
    if (extension !== undefined) return { ok: true, extension }
  }
  return fail('extension_invalid', `unknown extension ${JSON.stringify(segment)}`)
}
