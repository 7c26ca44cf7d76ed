import { Controller, Get, Header } from '@nestjs/common';
import { PrometheusSerializer, type PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { InjectPrometheusExporter } from './metrics.constants.js';

/** Prometheus text exposition of every OpenTelemetry metric: Redis, LLM cache and HTTP. */
@Controller('metrics')
export class MetricsController {
  private readonly serializer = new PrometheusSerializer();

  constructor(@InjectPrometheusExporter() private readonly exporter: PrometheusExporter) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  async scrape(): Promise<string> {
    const { resourceMetrics, errors } = await this.exporter.collect();
    const text = this.serializer.serialize(resourceMetrics);
    return errors.length ? `${text}# collection errors: ${errors.length}\n` : text;
  }
}
