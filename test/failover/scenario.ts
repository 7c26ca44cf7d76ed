/**
 * One failover scenario under load: a baseline, the event, waiting for the topology to settle, an observation
 * period, then the report (printed, for BENCHMARKS.md) and the criteria of issue #11: no failed request, no duplicate
 * upstream call outside the switch, hit ratio back to ≥ 90 % of the baseline within 10 s.
 */
import { expect } from '@jest/globals';
import { printReport, report, type FailoverLoad, type FailoverReport } from './failover-load.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ScenarioOptions {
  baselineMs?: number;
  /** How long after the event the load is observed (the recovery criterion is 10 s). */
  observeMs?: number;
  settleTimeoutMs?: number;
  /**
   * Count recovery from the moment the topology settled instead of the event: for a switch the app cannot see
   * until it settles (the old master keeps serving until the sentinels demote it).
   */
  recoverFromSettled?: boolean;
}

export async function runScenario(
  load: FailoverLoad,
  name: string,
  event: () => Promise<void> | void,
  settled: () => Promise<boolean> | boolean,
  options: ScenarioOptions = {},
): Promise<FailoverReport> {
  const { baselineMs = 3000, observeMs = 12_000, settleTimeoutMs = 20_000 } = options;
  const fromMs = Date.now();
  await sleep(baselineMs);
  const eventMs = Date.now();
  await event();
  const settleDeadline = eventMs + settleTimeoutMs;
  while (!(await settled())) {
    if (Date.now() > settleDeadline)
      throw new Error(`${name}: topology did not settle in ${settleTimeoutMs} ms`);
    await sleep(100);
  }
  const settledMs = Date.now();
  // Observe at least a few seconds past the settling too: the app may only move when the topology settles.
  await sleep(Math.max(0, Math.max(eventMs + observeMs, settledMs + 4000) - Date.now()));
  const endMs = Date.now();
  const r = report(
    load,
    name,
    fromMs,
    eventMs,
    settledMs,
    endMs,
    baselineMs,
    options.recoverFromSettled ? settledMs : eventMs,
  );
  printReport(r);
  return r;
}

export function expectFailoverCriteria(r: FailoverReport): void {
  expect(r.failures).toEqual([]);
  expect(r.failed).toBe(0);
  expect(r.baselineHitRatio).toBeGreaterThan(0.5);
  expect(r.recoverySeconds).toBeDefined();
  expect(r.recoverySeconds!).toBeLessThanOrEqual(10);
  expect(r.duplicatesOutsideSwitch).toBe(0);
}
