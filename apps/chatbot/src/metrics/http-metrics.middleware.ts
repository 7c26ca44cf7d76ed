import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { Counter, Histogram } from '@opentelemetry/api';
import { DURATION_BUCKETS_S, loadMetricService } from '@llm-cache/redis-cache';
import type { HttpRequest, HttpResponse } from '../common/http.types.js';

/**
 * `http_requests_total{method,route,status}` and `http_request_duration_seconds{method,route,status}` for every
 * request, including the ones no handler saw (401 from a guard, 404, 413 from the body parser). The `route` label is
 * the matched route pattern, never the raw URL, so label cardinality stays bounded.
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  protected readonly requests: Counter;
  protected readonly duration: Histogram;

  constructor() {
    const metrics = loadMetricService();
    this.requests = metrics.getCounter('http_requests', {
      description: 'HTTP requests by method, route and status',
    });
    this.duration = metrics.getHistogram('http_request_duration_seconds', {
      description: 'HTTP request duration, until the last byte of the response',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_S] },
    });
  }

  use(req: HttpRequest, res: HttpResponse, next: () => void): void {
    const start = performance.now();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const labels = { method: req.method, route: this.routeOf(req), status: String(res.statusCode) };
      this.requests.add(1, labels);
      this.duration.record((performance.now() - start) / 1000, labels);
    };
    res.once('finish', record);
    // A client that hangs up before the end still counts (with the status that was about to be sent).
    res.once('close', record);
    next();
  }

  protected routeOf(req: HttpRequest): string {
    if (req.routePattern) return req.routePattern;
    return req.route?.path ? `${req.baseUrl ?? ''}${req.route.path}` : 'unmatched';
  }
}
