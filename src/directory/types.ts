import type { AppConfig, ExtensionConfig, OrganizationConfig, UserConfig } from '../config.ts'

export type Organization = Readonly<OrganizationConfig>
export type User = Readonly<UserConfig>
export type App = Readonly<AppConfig>
export type Role = User['role']

export interface Extension extends Readonly<ExtensionConfig> {
  /** Organization of the owner; every extension belongs to exactly one (checked at config load). */
  readonly organizationId: number
  /** The part after "*": "210" for "0003*210". */
  readonly shortNumber: string
}

/** Who is calling: the user the token was issued for, and through which app. */
export interface Principal {
  readonly user: User
  readonly clientId: string
  /** When the request's token expires (ms since the epoch): a live stream ends then. */
  readonly expiresAt?: number
}
