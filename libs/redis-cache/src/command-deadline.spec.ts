import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { CommandDeadline } from './command-deadline.js';
import { eventLoopIdleMs, withTimeout } from './redis-cache.service.js';

const options = { capMs: 50, floorMs: 3, p99Multiplier: 4 };
/** A clock that counts all time as idle: the process waiting with nothing else to do. */
const wallClock = () => performance.now();

describe('CommandDeadline', () => {
  it('waits the full cap until enough latencies are known', () => {
    const d = new CommandDeadline(options);
    for (let i = 0; i < 63; i++) d.recordSuccess(0.2);
    expect(d.currentMs).toBe(50);
  });

  it('adapts to a multiple of the recent p99, never below the floor', () => {
    const d = new CommandDeadline(options);
    for (let i = 0; i < 512; i++) d.recordSuccess(0.3);
    expect(d.currentMs).toBe(3);
    for (let i = 0; i < 512; i++) d.recordSuccess(i % 50 === 0 ? 2 : 0.5);
    expect(d.p99()).toBe(2);
    expect(d.currentMs).toBe(8);
  });

  it('never exceeds the cap', () => {
    const d = new CommandDeadline(options);
    for (let i = 0; i < 512; i++) d.recordSuccess(40);
    expect(d.currentMs).toBe(50);
  });

  it('moves up as commands time out, up to the cap (a slower Redis is not a dead one)', () => {
    const d = new CommandDeadline(options);
    for (let i = 0; i < 512; i++) d.recordSuccess(0.3);
    const deadlines = [d.currentMs];
    for (let i = 0; i < 24; i++) {
      d.recordTimeout(d.currentMs);
      deadlines.push(d.currentMs);
    }
    expect(deadlines[0]).toBe(3);
    expect(deadlines.at(-1)).toBe(50);
    expect(deadlines).toEqual([...deadlines].sort((a, b) => a - b));
  });
  it('stays at least twice the longest wait Redis answered lately, forgetting it with a half-life', () => {
    let nowMs = 0;
    const d = new CommandDeadline(options, () => nowMs);
    for (let i = 0; i < 511; i++) d.recordSuccess(0.3);
    // One stall in 512 commands: invisible to the p99, but it hit every command in flight at once.
    d.recordSuccess(9);
    expect(d.p99()).toBe(0.3);
    expect(d.currentMs).toBe(18);
    nowMs = 60_000;
    for (let i = 0; i < 64; i++) d.recordSuccess(0.3);
    expect(d.currentMs).toBeCloseTo(9, 5);
    nowMs = 600_000;
    for (let i = 0; i < 64; i++) d.recordSuccess(0.3);
    expect(d.currentMs).toBe(3);
  });

  it('lengthens at once for a stall it just survived, not at the next periodic estimate', () => {
    const d = new CommandDeadline(options, () => 0);
    for (let i = 0; i < 600; i++) d.recordSuccess(0.3);
    expect(d.currentMs).toBe(3);
    d.recordSuccess(6);
    expect(d.currentMs).toBe(12);
  });

  it('learns from a reply that came after its deadline but within the cap; not from one after a long hang', () => {
    const d = new CommandDeadline(options, () => 0);
    for (let i = 0; i < 512; i++) d.recordSuccess(0.3);
    expect(d.currentMs).toBe(3);
    d.recordLateReply(400, false);
    expect(d.currentMs).toBe(3);
    d.recordLateReply(7, true);
    expect(d.currentMs).toBe(14);
  });
});

describe('withTimeout', () => {
  it('takes a reply that arrived while the event loop was too busy to fire the timer on time', async () => {
    // Another process answers over a real socket while this one is blocked, as Redis would.
    const echo = spawn(
      process.execPath,
      [
        '-e',
        `require('node:net').createServer((s) => s.on('data', (d) => setTimeout(() => s.write(d), 2)))` +
          `.listen(0, '127.0.0.1', function () { console.log(this.address().port); });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const port = Number(await new Promise<string>((r) => echo.stdout.once('data', (d) => r(String(d)))));
      const client = connect(port, '127.0.0.1');
      client.on('error', () => undefined);
      await new Promise((r) => client.once('connect', r));
      const reply = new Promise<string>((r) => client.once('data', (d) => r(d.toString())));
      // From the check phase, so the next loop iteration starts with the timers phase and polls the socket after.
      const { raced } = await new Promise<{ raced: Promise<string> }>((r) =>
        setImmediate(() => {
          client.write('pong');
          const raced = withTimeout(reply, 10);
          // Blocked past the deadline: the reply (sent after 2 ms) is readable and the timer due, both at once.
          const until = performance.now() + 150;
          while (performance.now() < until);
          r({ raced });
        }),
      );
      await expect(raced).resolves.toBe('pong');
      client.destroy();
    } finally {
      echo.kill();
    }
  });

  it('with liveness, waits past the deadline while the connection keeps answering others (queued, not hung)', async () => {
    let lastReplyAtMs = performance.now();
    const ticker = setInterval(() => (lastReplyAtMs = performance.now()), 2);
    try {
      const late = new Promise<string>((r) => setTimeout(() => r('late'), 40));
      const liveness = { idleClockMs: wallClock, lastReplyIdleMs: () => lastReplyAtMs };
      await expect(withTimeout(late, 10, { ...liveness, capMs: 200 })).resolves.toBe('late');
      // Still bounded by the cap.
      const never = withTimeout(new Promise(() => undefined), 10, { ...liveness, capMs: 60 });
      const start = performance.now();
      await expect(never).rejects.toThrow(/timed out/);
      expect(performance.now() - start).toBeGreaterThanOrEqual(55);
    } finally {
      clearInterval(ticker);
    }
  });

  it('with liveness, gives up after the deadline of silence', async () => {
    const start = performance.now();
    await expect(
      withTimeout(new Promise(() => undefined), 10, {
        idleClockMs: wallClock,
        lastReplyIdleMs: () => 0,
        capMs: 1000,
      }),
    ).rejects.toThrow(/timed out after 10 ms/);
    expect(performance.now() - start).toBeLessThan(200);
  });

  it('still rejects a reply that never comes', async () => {
    await expect(withTimeout(new Promise(() => undefined), 5)).rejects.toThrow(/timed out after 5 ms/);
  });

  it('with liveness, counts silence on the idle clock: a busy event loop does not use it up', async () => {
    // Answered 40 ms after it was sent, of which 35 ms the process was busy: 5 ms of silence, under the 10 ms.
    const reply = new Promise<string>((r) => setTimeout(() => r('served'), 40));
    const raced = withTimeout(reply, 10, {
      idleClockMs: eventLoopIdleMs,
      lastReplyIdleMs: () => 0,
      capMs: 1000,
    });
    const until = performance.now() + 35;
    while (performance.now() < until);
    await expect(raced).resolves.toBe('served');
  });
});
