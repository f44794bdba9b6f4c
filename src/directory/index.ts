export { Directory, type ExtensionLookupOptions } from './directory.ts'
export {
  canActOn,
  extensionsInAuthority,
  hasAuthorityOver,
  resolveScope,
  resolveTargetExtension,
  type Scope,
  type ScopeErrorCode,
  type ScopeFailure,
  type ScopeResult
} from './scope.ts'
export type { App, Extension, Organization, Principal, Role, User } from './types.ts'
