export { metricsPlugin, type MetricsPluginOptions } from './plugin.ts'
export { createEngineMetrics, type EngineMetrics, type MetricSources } from './registry.ts'
