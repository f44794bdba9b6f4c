// AMI recipes: pure functions from intent to action headers (reference E.4). No I/O here, so each
// recipe is unit-testable; the AMI layer still refuses any control character before writing.
import type { AmiHeaders } from '../ami/index.ts'

/** Directed pickup into a third phone (E.4.1): ring `endpoint`, and when it answers run PickupChan on the ringing leg. */
export function pickupOriginate (p: { endpoint: string, targetUniqueid: string, callerId: string, timeoutMs: number, channelId: string }): AmiHeaders {
  return {
    Channel: p.endpoint,
    Application: 'PickupChan',
    Data: p.targetUniqueid,
    CallerID: p.callerId,
    Timeout: p.timeoutMs,
    // Async is mandatory: a synchronous Originate blocks the whole AMI session while the phone rings.
    Async: 'true',
    // Chosen by us so the new leg is tracked from its very first event.
    ChannelId: p.channelId,
    Variable: ['VN_OP=pickup']
  }
}

/** Hang up one leg (E.4.3), by uniqueid. */
export function hangupLeg (uniqueid: string, cause = 16): AmiHeaders {
  return { Channel: uniqueid, Cause: cause }
}

/** Asterisk's caller id syntax for a validated UAPI caller id ("Name <number>" or "number"). */
export function asteriskCallerId (name: string | undefined, number: string): string {
  return name === undefined || name === '' ? `<${number}>` : `"${name}" <${number}>`
}
