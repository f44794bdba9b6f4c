// The simulated public network of the bundled PBX (asterisk/extensions.conf [vn-public], [pstn]):
// a public number is a Local/<number>@pstn channel the caller dials; its ;2 half rings ~1 s,
// answers and echoes, its ;1 half is bridged with the caller like a carrier trunk's channel.
import type { AmiEvent } from '../../src/ami/index.ts'
import type { AmiObserver } from './ami-observer.ts'
import { listChannels } from './pbx.ts'
import { eventually } from './wait.ts'

/**
 * Waits until Asterisk bridges `leg` (a uniqueid) with the public party `number`, whose far half
 * answers with Echo; returns the bridged ;1 half's channel name and the bridge. Events are looked
 * for from the observer mark `from`.
 */
export async function bridgedWithPublic (obs: AmiObserver, leg: string, number: string, from = 0): Promise<{ channel: string, bridge: string }> {
  const isPeer = (e: AmiEvent): boolean => e.event === 'BridgeEnter' && e.channel?.startsWith(`Local/${number}@pstn-`) === true && e.channel.endsWith(';1')
  const peer = await eventually(() => {
    const mine = new Set(obs.events((e) => e.event === 'BridgeEnter' && e.uniqueid === leg, from).map((e) => e.bridgeuniqueid))
    return obs.events(isPeer, from).find((e) => mine.has(e.bridgeuniqueid))
  }, { what: `${leg} bridged with the public party ${number}` })
  const bridge = peer.bridgeuniqueid as string
  const channel = peer.channel as string
  const far = channel.replace(/;1$/, ';2')
  await eventually(async () => (await listChannels()).find((c) => c.Channel === far && c.Context === 'pstn' && c.Exten === number && c.Application === 'Echo'), { what: `${far} answering with Echo` })
  return { channel, bridge }
}
