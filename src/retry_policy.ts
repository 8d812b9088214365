/**
 * Automatic reconnect: the retry policy contract and the default delays.
 *
 * @module
 */

/**
 * What a {@linkcode RetryPolicy} knows when it picks the next delay.
 *
 * @example
 * ```ts
 * import type { RetryContext } from "@signalrcore/client";
 * const context: RetryContext = {
 *   previousRetryCount: 0,
 *   elapsedMilliseconds: 0,
 *   retryReason: new Error("WebSocket closed with status code 1006."),
 * };
 * ```
 */
export interface RetryContext {
  /** How many reconnect attempts failed so far. */
  readonly previousRetryCount: number;
  /** Time since reconnecting began, in ms. */
  readonly elapsedMilliseconds: number;
  /** Why the connection was lost, or why the last attempt failed. */
  readonly retryReason: Error;
}

/**
 * Decides whether and when to try reconnecting.
 *
 * @example Retry every second for a minute
 * ```ts
 * import { HubConnectionBuilder, type RetryPolicy } from "@signalrcore/client";
 * const policy: RetryPolicy = {
 *   nextRetryDelayInMilliseconds: (context) => context.elapsedMilliseconds < 60_000 ? 1_000 : null,
 * };
 * new HubConnectionBuilder().withUrl("http://localhost:5000/hub").withAutomaticReconnect(policy);
 * ```
 */
export interface RetryPolicy {
  /**
   * Returns the delay before the next attempt, in ms, or `null` to give up. It is first asked
   * when the connection is lost, before the connection enters Reconnecting: `null` then means no
   * reconnect at all (`onclose` gets `retryReason`, as without a policy); later, `null` ends the
   * reconnect with a `ReconnectError`.
   *
   * @param context Attempts so far, time spent, and the last error.
   */
  nextRetryDelayInMilliseconds(context: RetryContext): number | null;
}

/** The longest delay a timer can wait (about 24.8 days). */
export const MAX_DELAY = 2 ** 31 - 1;

/** Default reconnect delays, in ms: then the client gives up. */
export const DEFAULT_RETRY_DELAYS: readonly number[] = [0, 2_000, 10_000, 30_000];

/** A policy that walks a fixed list of delays. */
export function delaysPolicy(delays: readonly number[]): RetryPolicy {
  for (const delay of delays) {
    if (typeof delay !== "number" || !(delay >= 0) || delay > MAX_DELAY) {
      throw new TypeError(
        `Reconnect delays must be numbers of ms from 0 to ${MAX_DELAY}; got ${delay}.`,
      );
    }
  }
  const copy = [...delays];
  return {
    nextRetryDelayInMilliseconds: ({ previousRetryCount }) => copy[previousRetryCount] ?? null,
  };
}
