import type { IncomingMessage } from 'node:http';
import { register } from 'node:module';
import { OTLPTraceExporter as OtlpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanExporter } from '@opentelemetry/sdk-trace';

export interface Telemetry {
  /** The reader behind `GET /metrics` (no server of its own: the app serves the text). */
  exporter: PrometheusExporter;
  /** The OTLP protocol spans go out with, or undefined when tracing is off. */
  tracing?: TraceProtocol;
  shutdown(): Promise<void>;
}

export type TraceProtocol = 'http/protobuf' | 'http/json';
type Env = Record<string, string | undefined>;

/** Probes and scrapes every few seconds would drown the request traces. */
const UNTRACED_PATHS = /^\/(health(\/|$|\?)|metrics($|\?))/;

/**
 * Traces are off unless the operator opts in with the standard variables: an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), or `OTEL_TRACES_EXPORTER=otlp`.
 * `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true` keep them off. Returns the protocol, or undefined.
 * Throws on a protocol this app does not ship an exporter for (so a typo fails start-up instead of dropping spans).
 */
export function traceProtocol(env: Env = process.env): TraceProtocol | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const exporters = env.OTEL_TRACES_EXPORTER?.split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const on = exporters?.length
    ? exporters.includes('otlp')
    : Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
  if (!on) return undefined;
  const protocol = (
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ||
    env.OTEL_EXPORTER_OTLP_PROTOCOL ||
    'http/protobuf'
  )
    .trim()
    .toLowerCase();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new Error(
      `OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: use http/protobuf (default) or http/json`,
    );
  }
  return protocol;
}

/**
 * Starts the OpenTelemetry SDK: always a Prometheus reader for `/metrics`; traces over OTLP/HTTP only when
 * `traceProtocol()` says so, with the HTTP server and ioredis instrumentations (the cache decision and GenAI
 * upstream spans come from @llm-cache/llm through the global tracer). Must run before Nest creates any module:
 * instruments created before a MeterProvider is registered stay no-ops, and modules loaded before the
 * instrumentations are registered are never patched — main.ts imports everything else only after this.
 */
export function startTelemetry(defaultServiceName = 'llm-cache-chatbot', env: Env = process.env): Telemetry {
  // The SDK would read OTEL_SERVICE_NAME itself, but an explicit serviceName wins over it: the operator's first.
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || defaultServiceName;
  const tracing = traceProtocol(env);
  // The SDK reads these itself; logs and OTLP metrics stay off unless asked for (/metrics is the metrics path).
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  if (!tracing) process.env.OTEL_TRACES_EXPORTER = 'none';
  const exporter = new PrometheusExporter({ preventServerStart: true });
  let traceExporter: SpanExporter | undefined;
  if (tracing) {
    // An ESM module's static `import … from 'ioredis'` loads the CommonJS package without passing the require
    // hook, so the instrumentations also need import-in-the-middle's loader hook to see it.
    register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
    // Both read OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _TIMEOUT and _COMPRESSION themselves.
    traceExporter = tracing === 'http/json' ? new OtlpJsonTraceExporter() : new OtlpProtoTraceExporter();
  }
  const sdk = new NodeSDK({
    serviceName,
    metricReaders: [exporter],
    traceExporter,
    instrumentations: tracing
      ? [
          new HttpInstrumentation({
            ignoreIncomingRequestHook: (req: IncomingMessage) => UNTRACED_PATHS.test(req.url ?? ''),
            // The exporter's own requests to the collector would trace themselves.
            requireParentforOutgoingSpans: true,
          }),
          new IORedisInstrumentation({ requireParentSpan: true }),
        ]
      : [],
  });
  sdk.start();
  return { exporter, tracing, shutdown: () => sdk.shutdown() };
}
