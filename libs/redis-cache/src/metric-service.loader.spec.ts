import { describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import { loadMetricService, metricFactoryFrom, NOOP_METRIC_FACTORY } from './metric-service.loader.js';

describe('metricFactoryFrom / loadMetricService', () => {
  it("uses nestjs-otel's MetricService when it is installed", () => {
    const { MetricService } = createRequire(import.meta.url)('nestjs-otel') as {
      MetricService: new () => object;
    };
    expect(loadMetricService()).toBeInstanceOf(MetricService);
  });

  it('falls back to no-op instruments when nestjs-otel (an optional peer) is not installed', () => {
    const factory = metricFactoryFrom(() => {
      throw Object.assign(new Error("Cannot find module 'nestjs-otel'"), { code: 'MODULE_NOT_FOUND' });
    });
    expect(factory).toBe(NOOP_METRIC_FACTORY);
    expect(() => factory.getCounter('c').add(1, { a: 'b' })).not.toThrow();
    expect(() => factory.getHistogram('h').record(0.5)).not.toThrow();
  });

  it('propagates any other failure', () => {
    expect(() =>
      metricFactoryFrom(() => {
        throw new TypeError('boom');
      }),
    ).toThrow('boom');
  });
});
