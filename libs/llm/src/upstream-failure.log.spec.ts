import { describe, expect, it } from '@jest/globals';
import { LlmProviderError } from './llm-provider.error.js';
import { UpstreamFailureLog } from './upstream-failure.log.js';

function setup(maxLinesPerWindow = 3, windowMs = 1000) {
  const lines: string[] = [];
  let now = 10_000;
  const log = new UpstreamFailureLog(
    { warn: (m: unknown) => void lines.push(String(m)) },
    { maxLinesPerWindow, windowMs },
    () => now,
  );
  return { log, lines, advance: (ms: number) => (now += ms) };
}

const bad = (status: 502 | 504 = 502, message = 'upstream error 500: boom') =>
  new LlmProviderError(message, { status, code: status === 504 ? 'upstream_timeout' : null });

describe('UpstreamFailureLog', () => {
  it('logs status, code, model, tenant, request id and duration on one line', () => {
    const { log, lines } = setup();
    log.record(bad(), { model: 'gpt-4o-mini', tenant: 'acme', requestId: 'req-1', durationMs: 12.4 });
    expect(lines).toEqual([
      'upstream call failed: status=502 code=upstream_error model=gpt-4o-mini tenant=acme request_id=req-1 duration_ms=12: upstream error 500: boom',
    ]);
  });

  it('logs the first N failures of a window, then one summary with the count by status', () => {
    const { log, lines, advance } = setup(3, 1000);
    for (let i = 0; i < 50; i++) log.record(bad(i % 2 ? 504 : 502), { tenant: 't' });
    expect(lines).toHaveLength(3);
    advance(1000);
    log.record(bad(), { tenant: 't' });
    expect(lines).toHaveLength(5);
    expect(lines[3]).toBe(
      'upstream call failed 47 more times in the last 1 s (not logged one by one): 504×24, 502×23',
    );
    expect(lines[4]).toMatch(/^upstream call failed: status=502/);
  });

  it('flushes the summary at the end of the window even when the failures stop', async () => {
    const lines: string[] = [];
    const log = new UpstreamFailureLog(
      { warn: (m: unknown) => void lines.push(String(m)) },
      {
        maxLinesPerWindow: 1,
        windowMs: 30,
      },
    );
    log.record(bad(), {});
    log.record(bad(), {});
    expect(lines).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 80));
    expect(lines[1]).toMatch(/failed 1 more times/);
  });

  it('never prints a key the provider echoed, and cannot be made to forge a field or a line', () => {
    const { log, lines } = setup();
    log.record(bad(502, 'Incorrect API key provided: sk-proj-abc123XYZ. Bearer sk-live-999'), {
      tenant: 'evil\nupstream call failed: status=200',
      model: 'm x=1',
    });
    expect(lines[0]).not.toContain('abc123XYZ');
    expect(lines[0]).not.toContain('999');
    expect(lines[0]).not.toContain('\n');
    expect(lines[0]).toContain('tenant=evil\\nupstream_call_failed:_status=200');
    expect(lines[0]).toContain('model=m_x=1');
  });

  it('does not log a caller abort (nothing is wrong upstream)', () => {
    const { log, lines } = setup();
    log.record(new LlmProviderError('aborted', { status: 408, type: 'aborted' }), {});
    expect(lines).toEqual([]);
  });
});
