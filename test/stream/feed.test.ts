// The call feed's window: records while clients watch, resumes exactly, refuses what it cannot tell.
import t from 'tap'
import { EventEmitter } from 'node:events'
import { CallService, Mirror, callIdDeriver, type MirrorSync, type Party } from '../../src/calls/index.ts'
import { CallFeed } from '../../src/stream/index.ts'
import type { AmiClient } from '../../src/ami/index.ts'
import { fixtureEvents } from '../helpers/fixtures.ts'

const resolve = (tech: string, resource: string): Party | undefined => {
  const m = /^(\d{4})\*\d+$/.exec(resource)
  return tech === 'PJSIP' && m !== null ? { extension: resource, organizationId: String(Number(m[1])) } : undefined
}

function feedOf (windowMs: number, windowSize = 1000): { feed: CallFeed, mirror: Mirror } {
  const mirror = new Mirror(resolve, callIdDeriver('s'))
  const sync = new EventEmitter() as unknown as MirrorSync
  const calls = new CallService({} as AmiClient, mirror, sync, { organizationName: () => undefined, nonceSecret: 'n' })
  return { feed: new CallFeed(mirror, sync, calls, { windowMs, windowSize }), mirror }
}

t.test('records only while watched; a resume from before a pause gets a snapshot', async (t) => {
  const { feed, mirror } = feedOf(50)
  const events = fixtureEvents('basic-call-answered')
  const seen: number[] = []
  feed.on('record', (r) => { seen.push(r.seq) })
  for (const e of events.slice(0, 10)) mirror.apply(e)
  t.same(seen, [], 'nobody watches: no records')
  feed.attach()
  for (const e of events.slice(10, 30)) mirror.apply(e)
  t.ok(seen.length > 0, 'records once a client is attached')
  const mid = feed.lastId
  feed.detach()
  for (const e of events.slice(30, 40)) mirror.apply(e)
  t.ok(feed.since(mid) !== undefined, 'within the window after the client left: still recording, resumable')
  await new Promise((resolve) => setTimeout(resolve, 80))
  const before = seen.length
  for (const e of events.slice(40)) mirror.apply(e)
  t.equal(seen.length, before, 'paused a window after the last client left')
  feed.attach()
  t.equal(feed.since(mid), undefined, 'an id from before the pause: cannot be told (snapshot)')
  t.same(feed.since(feed.lastId), [], 'the current id: nothing missed')
  t.equal(feed.since('garbage'), undefined)
  t.equal(feed.since(`${feed.boot}.99999`), undefined, 'an id from the future')
  feed.close()
})

t.test('a window that overflowed cannot resume its oldest ids', async (t) => {
  const { feed, mirror } = feedOf(60_000, 3)
  feed.attach()
  const first = feed.lastId
  for (const e of fixtureEvents('basic-call-answered')) mirror.apply(e)
  t.equal(feed.since(first), undefined, 'older than the window')
  const ids = feed.since(`${feed.boot}.${Number(feed.lastId.split('.')[1]) - 2}`)
  t.equal(ids?.length, 2, 'the last two are still there')
  feed.close()
})
