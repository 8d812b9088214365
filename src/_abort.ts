// Aborting one controller when another signal aborts. AbortSignal.any() would do it, but in
// Deno 2.9 each call kept about 2 KB alive per connection after the request had finished
// (measured with heap snapshots); a listener that is removed when done keeps nothing.

/**
 * Aborts `controller` (with the same reason) when `source` aborts, until the returned function
 * is called. An already aborted source aborts the controller at once.
 */
export function followSignal(
  controller: AbortController,
  source: AbortSignal | undefined,
): () => void {
  if (source === undefined) return noop;
  if (source.aborted) {
    controller.abort(source.reason);
    return noop;
  }
  const onAbort = () => controller.abort(source.reason);
  source.addEventListener("abort", onAbort, { once: true });
  return () => source.removeEventListener("abort", onAbort);
}

function noop(): void {}
