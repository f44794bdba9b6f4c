// The engine's Prometheus metrics, in a registry of their own per app instance (never prom-client's
// global one), so several apps in one process (tests) never share or clash on metric names.
// Engine counters live in AmiClient.stats and MirrorSync.totals; the metrics here read them at
// scrape time (collect callbacks), so the AMI and mirror hot paths carry no metrics code.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { AmiState, AmiStats } from '../ami/index.ts'
import type { DeliveredListener, DeliveryStats } from '../events/index.ts'

/** What the metrics read; the engine's AmiClient, MirrorSync and Mirror satisfy it. */
export interface MetricSources {
  readonly ami: { readonly stats: AmiStats }
  readonly sync: { readonly totals: { readonly resyncs: number, readonly driftAdded: number, readonly driftRemoved: number, readonly failures: number } }
  readonly mirror: { readonly size: number, readonly legs: { readonly size: number } }
  /** PhoneCallEvents delivery (src/events/delivery.ts); absent: no event series. */
  readonly events?: { readonly stats: Readonly<DeliveryStats>, onDelivered(listener: DeliveredListener): unknown }
}

// A Record, so that a new AmiState fails to compile here until it gets its series.
const AMI_STATES = Object.keys({
  idle: 1, connecting: 1, authenticating: 1, ready: 1, 'auth-failed': 1, disconnected: 1, closed: 1
} satisfies Record<AmiState, 1>) as AmiState[]

export interface EngineMetrics {
  readonly registry: Registry
  /** Seconds from request start to response end, by method, route pattern and status code. */
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>
}

/** A counter that mirrors a monotonic engine total at scrape time (prom-client counters cannot be set). */
function totalCounter (registry: Registry, name: string, help: string, read: () => number): void {
  // eslint-disable-next-line no-new
  new Counter({ name, help, registers: [registry], collect () { this.reset(); this.inc(read()) } })
}

export function createEngineMetrics ({ ami, sync, mirror, events }: MetricSources): EngineMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })

  const httpDuration = new Histogram({
    name: 'uapi_http_request_duration_seconds',
    help: 'HTTP request latency, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    // From a cached List (sub-millisecond) to a PickUp with ?wait=true (many seconds).
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry]
  })

  // Per second: rate(uapi_ami_events_received_total[1m]).
  totalCounter(registry, 'uapi_ami_events_received_total', 'AMI events received.', () => ami.stats.eventsReceived)
  totalCounter(registry, 'uapi_ami_actions_sent_total', 'AMI actions sent.', () => ami.stats.actionsSent)
  totalCounter(registry, 'uapi_ami_action_timeouts_total', 'AMI actions that got no reply in time.', () => ami.stats.timeouts)
  totalCounter(registry, 'uapi_ami_reconnects_total', 'AMI connect attempts after the first one.', () => ami.stats.reconnects)
  totalCounter(registry, 'uapi_mirror_resyncs_total', 'Full mirror resyncs completed (CoreShowChannels).', () => sync.totals.resyncs)
  totalCounter(registry, 'uapi_mirror_resync_failures_total', 'Mirror resyncs that failed.', () => sync.totals.failures)

  // eslint-disable-next-line no-new
  new Counter({
    name: 'uapi_mirror_drift_total',
    help: 'Legs a resync found the mirror had missed (added) or kept after they ended (removed).',
    labelNames: ['direction'] as const,
    registers: [registry],
    collect () {
      this.reset()
      this.inc({ direction: 'added' }, sync.totals.driftAdded)
      this.inc({ direction: 'removed' }, sync.totals.driftRemoved)
    }
  })
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'uapi_ami_pending_actions',
    help: 'AMI actions sent and not yet answered.',
    registers: [registry],
    collect () { this.set(ami.stats.pending) }
  })
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'uapi_ami_connection_state',
    help: 'AMI connection state: 1 for the current state, 0 for the others.',
    labelNames: ['state'] as const,
    registers: [registry],
    collect () {
      const current = ami.stats.state
      for (const state of AMI_STATES) this.set({ state }, state === current ? 1 : 0)
    }
  })
  // eslint-disable-next-line no-new
  new Gauge({ name: 'uapi_mirror_calls', help: 'Live calls in the mirror.', registers: [registry], collect () { this.set(mirror.size) } })
  // eslint-disable-next-line no-new
  new Gauge({ name: 'uapi_mirror_legs', help: 'Live legs (channels) in the mirror.', registers: [registry], collect () { this.set(mirror.legs.size) } })

  if (events !== undefined) {
    totalCounter(registry, 'uapi_events_published_total', 'PhoneCallEvent outbox rows this instance recorded (events x subscriptions it won).', () => events.stats.published)
    totalCounter(registry, 'uapi_events_delivered_total', 'PhoneCallEvent deliveries answered 2xx.', () => events.stats.delivered)
    totalCounter(registry, 'uapi_events_retried_total', 'PhoneCallEvent attempts that failed and were scheduled again.', () => events.stats.retried)
    totalCounter(registry, 'uapi_events_dead_lettered_total', 'PhoneCallEvent deliveries given up (retry budget spent, or a final answer such as 4xx).', () => events.stats.deadLettered)
    totalCounter(registry, 'uapi_events_deferred_total', 'PhoneCallEvent attempts put back because their target\'s queue was full.', () => events.stats.deferred)
    const latency = new Histogram({
      name: 'uapi_event_delivery_latency_seconds',
      help: 'From the AMI event\'s time to the receiver\'s 2xx, by whether it was the first attempt.',
      labelNames: ['first_attempt'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry]
    })
    events.onDelivered((ms, attempt) => { latency.observe({ first_attempt: attempt === 1 ? 'true' : 'false' }, ms / 1000) })
  }

  return { registry, httpDuration }
}
