// OnHold / OffHold's HTTP side (reference 4.1, 4.2): phoneCallViewId names the party put on hold
// (OffHold also accepts the holder's view), then src/calls/actions/hold.ts. Answers the PhoneCall
// once Asterisk confirmed the music on hold started (stopped), or after 3 s with the call as known.
import { offHold, onHold } from '../../calls/index.ts'
import { uapiError } from '../errors.ts'
import type { ActionHandler } from './types.ts'

export const onHoldAction: ActionHandler = async (ctx) => {
  const viewId = ctx.body.phoneCallViewId
  if (viewId === undefined || viewId === '') throw uapiError('pc_phonecallview_invalid')
  if (!ctx.calls.available) throw uapiError('pbx_unavailable')
  const done = await onHold(ctx.deps, { phoneCallId: ctx.phoneCallId, selection: ctx.scope.selection, phoneCallViewId: viewId })
  return ctx.present(done.call)
}

export const offHoldAction: ActionHandler = async (ctx) => {
  const viewId = ctx.body.phoneCallViewId
  if (viewId === undefined || viewId === '') throw uapiError('pc_phonecallview_invalid')
  if (!ctx.calls.available) throw uapiError('pbx_unavailable')
  const done = await offHold(ctx.deps, { phoneCallId: ctx.phoneCallId, selection: ctx.scope.selection, phoneCallViewId: viewId })
  return ctx.present(done.call)
}
