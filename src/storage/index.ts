export { Storage, storageFromConfig } from './storage.ts'
export { StorageUnavailableError, pgliteDriver, postgresDriver, type Database, type Driver, type Queryable } from './database.ts'
export { MIGRATIONS, migrate, type Migration } from './migrations.ts'
