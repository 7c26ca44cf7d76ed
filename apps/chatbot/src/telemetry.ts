import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { NodeSDK } from '@opentelemetry/sdk-node';

export interface Telemetry {
  /** The reader behind `GET /metrics` (no server of its own: the app serves the text). */
  exporter: PrometheusExporter;
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK with a Prometheus reader. Must run before Nest creates any module: instruments created
 * before a MeterProvider is registered stay no-ops for the life of the process.
 *
 * Traces and logs are off unless the operator opts in with the standard OTEL_* variables (`OTEL_TRACES_EXPORTER=otlp`
 * …): by default the SDK would try to ship spans to an OTLP collector that a first run does not have.
 */
export function startTelemetry(serviceName = 'llm-cache-chatbot'): Telemetry {
  process.env.OTEL_TRACES_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const sdk = new NodeSDK({ serviceName, metricReaders: [exporter], instrumentations: [] });
  sdk.start();
  return { exporter, shutdown: () => sdk.shutdown() };
}
