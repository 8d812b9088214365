// Code that only some connections need is imported when one does (stateful reconnect; the
// cookie jar outside browsers), so that the others never load it. In a browser the import is a
// fetch of a bundle chunk: it is bounded like any other request.

/**
 * Waits for a dynamic import; rejects with `signal.reason` when the signal aborts first, a
 * `TimeoutError` `DOMException` after `timeout` ms, or an `Error` whose cause is the failure.
 */
export function load<T>(
  module: Promise<T>,
  what: string,
  { signal, timeout }: { readonly signal?: AbortSignal; readonly timeout: number },
): Promise<T> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  const onAbort = () => reject(signal!.reason);
  const timer = setTimeout(
    () =>
      reject(new DOMException(`Loading ${what} took longer than ${timeout} ms.`, "TimeoutError")),
    timeout,
  );
  signal?.addEventListener("abort", onAbort, { once: true });
  module.then(resolve, (cause) => reject(new Error(`Could not load ${what}.`, { cause })));
  return promise.finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  });
}
