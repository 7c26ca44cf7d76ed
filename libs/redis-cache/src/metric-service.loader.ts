import { Logger } from '@nestjs/common';
import { createRequire } from 'node:module';

/** Attributes (labels) of one metric sample. */
export type MetricAttributes = Record<string, string | number | boolean>;

/** The part of an OpenTelemetry `Counter` this project records through. */
export interface MetricCounter {
  add(value: number, attributes?: MetricAttributes): void;
}

/** The part of an OpenTelemetry `Histogram` (and `Gauge`) this project records through. */
export interface MetricRecorder {
  record(value: number, attributes?: MetricAttributes): void;
}

export interface MetricInstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

/**
 * What the metrics classes need from nestjs-otel's `MetricService`. Declared here, structurally, so the packages'
 * public types do not reference `nestjs-otel` or `@opentelemetry/api`: both are optional peers.
 */
export interface MetricFactory {
  getCounter(name: string, options?: MetricInstrumentOptions): MetricCounter;
  getHistogram(name: string, options?: MetricInstrumentOptions): MetricRecorder;
  getGauge(name: string, options?: MetricInstrumentOptions): MetricRecorder;
}

const noopInstrument: MetricCounter & MetricRecorder = { add: () => undefined, record: () => undefined };

/** Instruments that drop every sample: metrics are off when nestjs-otel is not installed. */
export const NOOP_METRIC_FACTORY: MetricFactory = {
  getCounter: () => noopInstrument,
  getHistogram: () => noopInstrument,
  getGauge: () => noopInstrument,
};

let warned = false;

/**
 * Builds a MetricFactory from `load()` (which returns the nestjs-otel module), or the no-op factory when that module
 * or one of its own dependencies is not installed. Any other failure is a real bug and propagates.
 */
export function metricFactoryFrom(load: () => unknown): MetricFactory {
  try {
    const { MetricService } = load() as { MetricService: new () => MetricFactory };
    return new MetricService();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    if (!warned) {
      warned = true;
      new Logger('RedisCacheMetrics').log(
        `Metrics disabled: ${(err as Error).message.split('\n')[0]} (install nestjs-otel and @opentelemetry/api to record them)`,
      );
    }
    return NOOP_METRIC_FACTORY;
  }
}

/**
 * nestjs-otel's `MetricService`, or no-op instruments when nestjs-otel (an optional peer) is not installed, so an
 * app without OpenTelemetry still boots. nestjs-otel is CommonJS and requires the ESM-only @nestjs/common; loading it
 * lazily (after Nest is evaluated) also keeps a static import from forming a require(esm) cycle under Jest's ESM
 * loader.
 */
export function loadMetricService(): MetricFactory {
  const require = createRequire(import.meta.url);
  return metricFactoryFrom(() => require('nestjs-otel'));
}
