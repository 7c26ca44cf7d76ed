import { callerAborted } from './llm-provider.error.js';

/** Throws the caller's 408 when `signal` has already aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw callerAborted();
}

/**
 * Waits `ms`, or rejects with the caller's 408 as soon as `signal` aborts (also when it already has). `ms <= 0`
 * resolves without a timer: a zero-latency mock must not pay a macrotask per chunk.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(callerAborted());
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(callerAborted());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles with `work`, or rejects with a 408 as soon as the caller aborts. `work` then finishes on its own (a
 * leader's upstream call that followers wait for); its late outcome is nobody's to handle.
 */
export function untilAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  work.catch(() => undefined);
  if (signal.aborted) return Promise.reject(callerAborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(callerAborted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
