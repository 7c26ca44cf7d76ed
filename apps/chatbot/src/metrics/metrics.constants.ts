import { Inject } from '@nestjs/common';

/** The PrometheusExporter (a MetricReader registered with the global MeterProvider) that `/metrics` serializes. */
export const PROMETHEUS_EXPORTER = Symbol.for('llm-cache:chatbot:prometheus-exporter');

export const InjectPrometheusExporter = (): ParameterDecorator => Inject(PROMETHEUS_EXPORTER);
