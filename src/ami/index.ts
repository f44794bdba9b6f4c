// Public face of the AMI layer: nothing else in the project imports asterisk-manager or src/ami internals.
export { AmiClient } from './client.ts'
export type { AmiClientOptions, AmiClientEvents, AmiBackoffOptions, AmiStats } from './client.ts'
export { AmiError, AmiErrorCodes, isAmiError } from './errors.ts'
export type { AmiErrorCode, AmiErrorDetails } from './errors.ts'
export type {
  AmiState, AmiEvent, AmiResponse, AmiListResult, AmiHeaders, AmiActionOptions, AmiSession
} from './types.ts'
