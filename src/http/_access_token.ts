// The bearer token of every HTTP request and WebSocket upgrade. The app's factory is asked for
// each request rather than once per connection: tokens expire during long connections, and the
// factory is the place that knows when (it may cache).
import { describe } from "../errors.ts";

/** The user's `accessTokenFactory`. */
export type AccessTokenFactory = () => string | Promise<string>;

/**
 * Asks the app's `accessTokenFactory` for a token, once per request. A negotiate redirect may
 * put its own token in force instead ({@linkcode AccessTokenProvider.override}).
 */
export class AccessTokenProvider {
  readonly #factory: AccessTokenFactory | undefined;
  #override: string | undefined;

  /**
   * Wraps the factory.
   *
   * @param factory The user's `accessTokenFactory`; without one there is no token.
   */
  constructor(factory?: AccessTokenFactory) {
    this.#factory = factory;
  }

  /**
   * The token for the next request, or `undefined` when there is none (no factory, or it
   * returned `""`). Rejects with `signal.reason` as soon as the signal aborts, even while the
   * factory is still running; rejects with an `Error` whose `cause` is the factory's error
   * when the factory fails or returns something that is not a string.
   */
  get(signal?: AbortSignal): Promise<string | undefined> {
    if (this.#override !== undefined) return settled(this.#override || undefined, signal);
    if (this.#factory === undefined) return settled(undefined, signal);
    return this.#ask(this.#factory, signal);
  }

  /**
   * Asks the factory again, for the one retry after a 401 (its token may have expired since
   * it was fetched). Resolves `undefined` when there is nothing to refresh: no factory, a
   * redirect's token in force (not ours to renew), or the factory has no token now. The
   * caller then keeps the 401.
   */
  refresh(signal?: AbortSignal): Promise<string | undefined> {
    if (this.#override !== undefined || this.#factory === undefined) {
      return settled(undefined, signal);
    }
    return this.#ask(this.#factory, signal);
  }

  /**
   * Puts a negotiate redirect's token in force instead of the factory's: it belongs to the
   * redirect target, so it is sent unchanged and never refreshed. `undefined` goes back to
   * the factory (for a fresh negotiate from the original URL).
   */
  override(token: string | undefined): void {
    this.#override = token;
  }

  async #ask(
    factory: AccessTokenFactory,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    signal?.throwIfAborted();
    // Handled here whatever happens later, so that a result or a rejection arriving after an
    // abort is dropped instead of surfacing as an unhandled rejection.
    const answer = new Promise<unknown>((resolve) => resolve(factory())).then(check, (cause) => {
      throw new Error(`accessTokenFactory failed: ${describe(cause)}`, { cause });
    });
    if (signal === undefined) return await answer;
    const { promise: aborted, reject } = Promise.withResolvers<never>();
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await Promise.race([answer, aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}

function check(token: unknown): string | undefined {
  if (typeof token !== "string") {
    throw new Error(
      `accessTokenFactory returned ${
        token === null ? "null" : typeof token
      } instead of a string (return "" for no token).`,
      { cause: token },
    );
  }
  return token || undefined;
}

function settled(
  token: string | undefined,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  return signal?.aborted ? Promise.reject(signal.reason) : Promise.resolve(token);
}
