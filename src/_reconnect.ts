// Automatic reconnect: asks the retry policy for each delay, waits, tries, until a connection
// is made, the policy gives up, or the signal (stop()) ends it, at any of those points.
import { describe, ReconnectError, toError } from "./errors.ts";
import { type Logger, LogLevel } from "./logger.ts";
import { MAX_DELAY, type RetryContext, type RetryPolicy } from "./retry_policy.ts";

/**
 * The policy's delay before the next attempt; `null` to give up, also when the policy throws
 * (which is logged).
 */
export function nextDelay(
  policy: RetryPolicy,
  context: RetryContext,
  logger: Logger,
): number | null {
  try {
    return policy.nextRetryDelayInMilliseconds(context);
  } catch (error) {
    logger.log(LogLevel.Error, `The retry policy threw: ${describe(error)}`);
    return null;
  }
}

/**
 * Retries `connect` until it succeeds, the first time after `first` ms (the policy's answer for
 * the first attempt, asked by the caller before it began reconnecting). Rejects with a
 * {@linkcode ReconnectError} when the policy gives up (returns `null`, or throws), or with the
 * signal's reason when it aborts; a connection that arrives after the abort is handed to
 * `discard`.
 */
export async function reconnect<T>(
  policy: RetryPolicy,
  reason: Error,
  first: number,
  connect: (signal: AbortSignal) => Promise<T>,
  discard: (connection: T) => Promise<void>,
  signal: AbortSignal,
  logger: Logger,
): Promise<T> {
  const began = performance.now();
  let attempts = 0;
  let last = reason;
  let delay: number | null = first;
  for (;;) {
    signal.throwIfAborted();
    if (delay === null) {
      logger.log(LogLevel.Information, `Reconnect gave up after ${attempts} attempt(s).`);
      throw new ReconnectError(attempts, last);
    }
    await sleep(delay, signal);
    let connection: T;
    try {
      connection = await connect(signal);
    } catch (error) {
      signal.throwIfAborted();
      attempts++;
      last = toError(error);
      logger.log(LogLevel.Information, `Reconnect attempt ${attempts} failed: ${last.message}`);
      delay = nextDelay(policy, {
        previousRetryCount: attempts,
        elapsedMilliseconds: performance.now() - began,
        retryReason: last,
      }, logger);
      continue;
    }
    if (signal.aborted) {
      await discard(connection);
      throw signal.reason;
    }
    return connection;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (!(ms > 0)) return Promise.resolve();
  // A timer fires at once when given more than it can hold: wait the longest it can instead.
  ms = Math.min(ms, MAX_DELAY);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
