// Public face of the live stream: the feed of call changes (from the mirror's change signal) and
// the Server-Sent Events client that sends one token's view of it.
export { CallFeed, type FeedOptions, type FeedRecord } from './feed.ts'
export { openCallStream, type StreamClientOptions } from './sse.ts'
