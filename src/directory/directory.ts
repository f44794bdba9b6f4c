// The account directory: organizations, users, extensions and apps from config, indexed once at
// load so every lookup on the request and AMI-event paths is a Map hit.
import { endpointKey, type DirectoryConfig } from '../config.ts'
import type { App, Extension, Organization, User } from './types.ts'

// Asterisk names a device channel "<TECH>/<resource>-<8 hex digits>" (e.g. PJSIP/0003*210-0000000b).
const CHANNEL_SUFFIX = /-[0-9a-f]{8}$/
const FULL_NUMBER = /^[0-9]+\*[0-9]+$/
const SHORT_NUMBER = /^[0-9]+$/
const NONE: readonly Extension[] = Object.freeze([])

export interface ExtensionLookupOptions {
  /** Organization used to expand a short number ("210" in org 3 is "0003*210"). */
  readonly orgId?: number | undefined
}

export class Directory {
  readonly #orgs = new Map<number, Organization>()
  readonly #users = new Map<number, User>()
  readonly #extensions = new Map<string, Extension>()
  readonly #byEndpoint = new Map<string, Extension>()
  // Resource without technology ("0003*210"); undefined marks a name shared by two technologies.
  readonly #byResource = new Map<string, Extension | undefined>()
  readonly #byUser = new Map<number, Extension[]>()
  readonly #byOrg = new Map<number, Extension[]>()
  #apps = new Map<string, App>()
  readonly #all: readonly Extension[]

  /** Expects a config already checked by parseConfig (unique ids, known owners and organizations). */
  constructor (config: DirectoryConfig) {
    for (const org of config.organizations) this.#orgs.set(org.id, org)
    for (const user of config.users) this.#users.set(user.id, user)
    for (const app of config.apps) this.#apps.set(app.clientId, app)

    const all: Extension[] = []
    for (const record of config.extensions) {
      const organizationId = this.#users.get(record.ownerId)?.organizationId
      if (organizationId === undefined) throw new Error(`extension ${record.number}: owner ${record.ownerId} has no organization`)
      const ext: Extension = Object.freeze({
        ...record,
        organizationId,
        shortNumber: record.number.slice(record.number.indexOf('*') + 1)
      })
      all.push(ext)
      this.#extensions.set(ext.number, ext)
      push(this.#byUser, ext.ownerId, ext)
      push(this.#byOrg, organizationId, ext)
      if (ext.endpoint !== undefined) {
        this.#byEndpoint.set(endpointKey(ext.endpoint), ext)
        const resource = ext.endpoint.slice(ext.endpoint.indexOf('/') + 1)
        this.#byResource.set(resource, this.#byResource.has(resource) ? undefined : ext)
      }
    }
    this.#all = Object.freeze(all)
    for (const list of [...this.#byUser.values(), ...this.#byOrg.values()]) Object.freeze(list)
  }

  user (id: number): User | undefined {
    return this.#users.get(id)
  }

  organization (id: number): Organization | undefined {
    return this.#orgs.get(id)
  }

  /** Organization whose numbers start with `prefix` ("0003"). */
  organizationByPrefix (prefix: string): Organization | undefined {
    for (const org of this.#orgs.values()) if (org.extensionPrefix === prefix) return org
    return undefined
  }

  /**
   * Finds an extension by full number ("0003*210") or, given `orgId`, by short number ("210").
   * `%2A` decoding is the router's job: this takes the number as the PBX writes it.
   */
  extension (number: string, options: ExtensionLookupOptions = {}): Extension | undefined {
    if (FULL_NUMBER.test(number)) return this.#extensions.get(number)
    if (options.orgId === undefined || !SHORT_NUMBER.test(number)) return undefined
    const org = this.#orgs.get(options.orgId)
    return org === undefined ? undefined : this.#extensions.get(`${org.extensionPrefix}*${number}`)
  }

  extensionsOfUser (userId: number): readonly Extension[] {
    return this.#byUser.get(userId) ?? NONE
  }

  extensionsOfOrganization (orgId: number): readonly Extension[] {
    return this.#byOrg.get(orgId) ?? NONE
  }

  allExtensions (): readonly Extension[] {
    return this.#all
  }

  /**
   * Extension behind an Asterisk device: accepts a channel name ("PJSIP/0003*210-0000000b"), an
   * endpoint ("PJSIP/0003*210") or a bare endpoint name ("0003*210", as PJSIP events carry it).
   * Local/ and other non-device channels give undefined: they are not a phone of an extension.
   */
  extensionByEndpoint (name: string): Extension | undefined {
    if (name.includes('/')) {
      const key = endpointKey(name)
      return this.#byEndpoint.get(key) ?? this.#byEndpoint.get(key.replace(CHANNEL_SUFFIX, ''))
    }
    return this.#byResource.get(name)
  }

  app (clientId: string): App | undefined {
    return this.#apps.get(clientId)
  }

  allApps (): readonly App[] {
    return [...this.#apps.values()]
  }

  /**
   * Takes the apps of a re-read config (already validated against this directory's users): a removed
   * app, or one whose secret changed, loses its tokens at once (src/auth checks both per request).
   * Other directory changes need a restart. Returns what changed, for the log.
   */
  replaceApps (apps: readonly App[]): { added: string[], removed: string[], rekeyed: string[] } {
    const next = new Map<string, App>()
    for (const app of apps) next.set(app.clientId, app)
    const added = [...next.keys()].filter((id) => !this.#apps.has(id))
    const removed = [...this.#apps.keys()].filter((id) => !next.has(id))
    const rekeyed = [...next.values()].filter((a) => { const old = this.#apps.get(a.clientId); return old !== undefined && old.secretHash !== a.secretHash }).map((a) => a.clientId)
    this.#apps = next
    return { added, removed, rekeyed }
  }
}

function push<K> (map: Map<K, Extension[]>, key: K, ext: Extension): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [ext])
  else list.push(ext)
}
