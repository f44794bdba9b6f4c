// Numbers named in payloads and queries (sendCallTo, transferNumber, phoneNumber, source,
// destination): an extension (full "0003*210" or short "210", relative to an organization) or a
// public number (5+ digits, optional leading +, reference 1.4). Canonical form: the full
// extension number, or the public number as given.
import type { Directory, Extension } from '../directory/index.ts'

const PUBLIC = /^\+?[0-9]{5,32}$/

export type ResolvedNumber =
  | { readonly kind: 'extension', readonly number: string, readonly extension: Extension }
  | { readonly kind: 'public', readonly number: string }

/**
 * Resolves `value` against the directory. Extensions must exist; a short number is looked up in
 * `orgId` (none: short numbers resolve to nothing). A full number of another organization is
 * returned as is: each caller decides whether it may be used.
 */
export function resolveNumber (directory: Directory, value: unknown, orgId: number | undefined): ResolvedNumber | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) return undefined
  const ext = directory.extension(value, orgId !== undefined ? { orgId } : {})
  if (ext !== undefined) return { kind: 'extension', number: ext.number, extension: ext }
  if (PUBLIC.test(value)) return { kind: 'public', number: value }
  return undefined
}

/** The dialplan context of an organization: the one its extensions use (all share it in this PBX). */
export function organizationContext (directory: Directory, orgId: number): string | undefined {
  return directory.extensionsOfOrganization(orgId).find((e) => e.context !== '')?.context
}
