// The bearer token of every HTTP request and WebSocket upgrade. The app's factory is asked for
// each request rather than once per connection: tokens expire during long connections, and the
// factory is the place that knows when (it may cache).
import { describe } from "../errors.ts";

/** The user's `accessTokenFactory`. */
export type AccessTokenFactory = () =>
  | string
  | null
  | undefined
  | Promise<string | null | undefined>;

/**
 * Asks the app's `accessTokenFactory` for a token, once per request. A negotiate redirect may
 * put its own token in force instead ({@linkcode AccessTokenProvider.override}).
 *
 * A token goes only to the origin it was given for: the factory's to the hub's origin
 * ({@linkcode AccessTokenProvider.scope}), a redirect's to the redirect target's. A request to
 * any other origin (a negotiate redirect elsewhere that brought no token) carries none.
 */
export class AccessTokenProvider {
  readonly #factory: AccessTokenFactory | undefined;
  #override: string | undefined;
  #overrideOrigin: string | undefined;
  #hubOrigin: string | undefined;

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
  get(signal?: AbortSignal, url?: string): Promise<string | undefined> {
    const source = this.#source(url);
    if (typeof source === "function") return this.#ask(source, signal);
    return settled(source || undefined, signal);
  }

  /**
   * Asks the factory again, for the one retry after a 401 (its token may have expired since
   * it was fetched). Resolves `undefined` when there is nothing to refresh: no factory, a
   * redirect's token in force (not ours to renew), or the factory has no token now. The
   * caller then keeps the 401.
   */
  refresh(signal?: AbortSignal, url?: string): Promise<string | undefined> {
    const source = this.#source(url);
    if (typeof source !== "function") return settled(undefined, signal);
    return this.#ask(source, signal);
  }

  /**
   * Starts a connect to `hubUrl`: the factory's tokens go to its origin only from now on, and a
   * redirect's token in force is dropped (every connect negotiates from the original URL).
   */
  scope(hubUrl: string): void {
    this.#hubOrigin = originOf(hubUrl);
    this.#override = undefined;
    this.#overrideOrigin = undefined;
  }

  /**
   * Puts a negotiate redirect's token in force instead of the factory's: it belongs to the
   * redirect target, so it is sent unchanged, never refreshed, and (given `url`) only to that
   * target's origin. `undefined` goes back to the factory (for a fresh negotiate from the
   * original URL).
   */
  override(token: string | undefined, url?: string): void {
    this.#override = token;
    this.#overrideOrigin = token === undefined || url === undefined ? undefined : originOf(url);
  }

  /** The token in force for `url` (any URL when not given), or the factory to ask. */
  #source(url: string | undefined): string | AccessTokenFactory | undefined {
    const origin = url === undefined ? undefined : originOf(url);
    if (
      this.#override !== undefined &&
      (origin === undefined || this.#overrideOrigin === undefined ||
        origin === this.#overrideOrigin)
    ) {
      return this.#override;
    }
    if (origin !== undefined) {
      // The factory's token is the hub's: never for another origin, nor for one a redirect's
      // token was not given for when no hub origin is known.
      if (
        this.#hubOrigin === undefined ? this.#override !== undefined : origin !== this.#hubOrigin
      ) {
        return undefined;
      }
    }
    return this.#factory;
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
  // No token: "", or null and undefined, which the official client also takes for none (a
  // factory returning `localStorage.getItem("token")` before anyone signed in).
  if (token === null || token === undefined) return undefined;
  if (typeof token !== "string") {
    throw new Error(
      `accessTokenFactory returned ${typeof token} instead of a string (or "", null or undefined for no token).`,
      { cause: token },
    );
  }
  return token || undefined;
}

/**
 * The origin of an http(s) or ws(s) URL, a WebSocket's as its HTTP twin's (the upgrade is an
 * HTTP request to the same server); a URL that does not parse is an origin of its own.
 */
function originOf(url: string): string {
  try {
    const u = new URL(url);
    const protocol = u.protocol === "ws:" ? "http:" : u.protocol === "wss:" ? "https:" : u.protocol;
    // Built from the parts rather than u.origin, which is "null" for unknown schemes.
    return `${protocol}//${u.host}`;
  } catch {
    return `invalid:${url}`;
  }
}

function settled(
  token: string | undefined,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  return signal?.aborted ? Promise.reject(signal.reason) : Promise.resolve(token);
}
