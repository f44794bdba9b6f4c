// Public face of the AMI layer: nothing else in the project imports asterisk-manager or src/ami internals.
//
//   const ami = new AmiClient({ host, port, username, secret, logger })
//   ami.on('ready', (session) => ...)        // after every login: resync here (session.epoch increments)
//   ami.on('event', (e) => ...)              // every event, lower-case keys, `chanvariable.NAME` flattened
//   ami.on('disconnected', (err) => ...)     // AmiError: CONNECTION_LOST, TIMEOUT (missed Ping), AUTH
//   ami.start()
//   await ami.action('Hangup', { Channel })  // rejects AmiError: NOT_CONNECTED, TIMEOUT, ACTION_FAILED...
//   await ami.list('CoreShowChannels')       // { response, items, complete }
//   ami.state; ami.stats; await ami.close()
export { AmiClient } from './client.ts'
export type { AmiClientOptions, AmiClientEvents, AmiBackoffOptions, AmiStats } from './client.ts'
export { AmiError, AmiErrorCodes, isAmiError } from './errors.ts'
export type { AmiErrorCode, AmiErrorDetails } from './errors.ts'
export type {
  AmiState, AmiEvent, AmiResponse, AmiListResult, AmiHeaders, AmiActionOptions, AmiSession
} from './types.ts'
export { isEvent } from './events.ts'
export type { AmiEventOf, ConsumedEventName, ConsumedEvents, ChannelSnapshot, DestChannelSnapshot } from './events.ts'
