import { describe, expect, it } from '@jest/globals';
import { releaseAndSend, type Release } from './llm-call.coordinator.js';
import { cacheEntryFixture } from './testing/cache-entry.fixture.js';

const entry = cacheEntryFixture({ createdAtMs: 0 });

/** A Release whose write is sent at once and written when the test says so. */
function pendingWrite() {
  let write!: (written: boolean) => void;
  const written = new Promise<boolean>((resolve) => (write = resolve));
  const calls: Array<[unknown, unknown]> = [];
  const release: Release = (handoff, store, onSent) => {
    calls.push([handoff, store]);
    onSent?.(true);
    return written;
  };
  return { release, write, calls };
}

describe('releaseAndSend', () => {
  it('answers as soon as the write is sent, before Redis replied', async () => {
    const { release, write, calls } = pendingWrite();
    const { stored, storedPromise } = await releaseAndSend(release, entry, true);
    expect(stored).toBe(true);
    expect(calls).toEqual([[entry, true]]);
    let outcome: boolean | undefined;
    void storedPromise.then((v) => (outcome = v));
    await Promise.resolve();
    expect(outcome).toBeUndefined();
    write(false);
    expect(await storedPromise).toBe(false);
  });

  it('waits for the reply with awaitStore, and says what was written', async () => {
    const { release, write } = pendingWrite();
    let done = false;
    const handed = releaseAndSend(release, entry, true, true).then((r) => ((done = true), r));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    write(false);
    expect((await handed).stored).toBe(false);
  });

  it('takes the outcome of a Release that never reports the send', async () => {
    const release: Release = async () => true;
    expect((await releaseAndSend(release, entry, true)).stored).toBe(true);
  });

  it('turns a rejecting Release into stored: false, without an unhandled rejection', async () => {
    const release: Release = () => Promise.reject(new Error('custom coordinator failed'));
    const { stored, storedPromise } = await releaseAndSend(release, entry, true);
    expect(stored).toBe(false);
    expect(await storedPromise).toBe(false);
  });
});
