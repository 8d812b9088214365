// Every HTTP request of the client (negotiate, and the Server-Sent Events and Long Polling
// transports) goes through here, so that headers, the bearer token, its one refresh after a
// 401, cookies, timeouts, aborts and error messages are the same for all of them.
import { describe, HttpError } from "../errors.ts";
import { followSignal } from "../_abort.ts";
import { type Logger, LogLevel } from "../logger.ts";
import { AccessTokenProvider } from "./_access_token.ts";
import type { CookieJar } from "./_cookie_jar.ts";
import { redact, redactError } from "./_redact.ts";

/** Options of an {@linkcode HttpClient}. */
export interface HttpClientOptions {
  /** The `fetch` to use. */
  readonly fetch: typeof fetch;
  /** Headers of every request: the user's, `X-Requested-With` and `X-SignalR-User-Agent`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Default timeout of each request, in ms. Default 100 000. */
  readonly timeout?: number;
  /** Passed to fetch; it decides whether browsers send cookies cross-origin. Default `"include"`. */
  readonly credentials?: RequestCredentials;
  /** Where the bearer token comes from. Default: no token. */
  readonly tokens?: AccessTokenProvider;
  /**
   * The cookie jar, outside browsers ({@linkcode isBrowser}), or a loader of it that the first
   * request calls; `undefined` for none.
   */
  readonly cookies?: CookieJar | (() => Promise<CookieJar>) | undefined;
  /** Receives a trace entry per request. Default: nothing is logged. */
  readonly logger?: Logger;
}

/** One HTTP request. */
export interface HttpRequest {
  /** The HTTP method. */
  readonly method: "GET" | "POST" | "DELETE";
  /** The absolute http(s) URL, with its query. */
  readonly url: string;
  /** The body of a POST. */
  readonly body?: string | Uint8Array;
  /** The `Content-Type` of the body. */
  readonly contentType?: string;
  /** The `Accept` header. */
  readonly accept?: string;
  /** Aborts the request; it then rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Timeout in ms instead of the client's; `false` for none (a streaming GET). */
  readonly timeout?: number | false;
  /** What the request is for, in messages: "Negotiate", "Poll", "Send"... */
  readonly what: string;
}

/** How a response's body is read: not at all, whole, or (a 200's) piece by piece to a sink. */
type Read = false | "text" | "bytes" | ((chunk: Uint8Array) => void);

// What is read of a failed response's body for its error message (which keeps 200 characters).
const ERROR_BODY_BYTES = 4096;

/**
 * Whether the code runs in a browser or a browser worker, whose fetch and WebSocket use the
 * browser's cookie jar (with `credentials`): a {@linkcode CookieJar} must not be used there.
 */
export function isBrowser(): boolean {
  const g = globalThis as { document?: unknown; importScripts?: unknown };
  return (typeof g.document === "object" && g.document !== null) ||
    typeof g.importScripts === "function";
}

/** A response read to its end by {@linkcode HttpClient.bytes}. */
export interface HttpBytesResponse {
  /** The HTTP status code. */
  readonly status: number;
  /** The HTTP status text (often empty over HTTP/2). */
  readonly statusText: string;
  /** The whole body. */
  readonly bytes: Uint8Array;
}

/** A response read to its end by {@linkcode HttpClient.text}. */
export interface HttpTextResponse {
  /** The HTTP status code. */
  readonly status: number;
  /** The HTTP status text (often empty over HTTP/2). */
  readonly statusText: string;
  /** The whole body, decoded as UTF-8. */
  readonly text: string;
  /** The response headers. */
  readonly headers: Headers;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Sends the client's HTTP requests: adds the headers, the bearer token (asked for each
 * request, refreshed once after a 401) and the cookies, keeps the cookies the responses set,
 * and bounds each request with a timeout and an optional `AbortSignal`.
 */
export class HttpClient {
  readonly #fetch: typeof fetch;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #timeout: number;
  readonly #credentials: RequestCredentials;
  readonly #tokens: AccessTokenProvider;
  #cookies: CookieJar | undefined;
  #loadCookies: (() => Promise<CookieJar>) | undefined;
  #cookiesLoaded: Promise<void> | undefined;
  readonly #logger: Logger | undefined;

  /**
   * Creates a client.
   *
   * @param options The fetch, headers, timeout, token provider and cookie jar to use.
   */
  constructor(options: HttpClientOptions) {
    this.#fetch = options.fetch;
    this.#headers = options.headers ?? NO_HEADERS;
    this.#timeout = options.timeout ?? 100_000;
    this.#credentials = options.credentials ?? "include";
    this.#tokens = options.tokens ?? new AccessTokenProvider();
    if (typeof options.cookies === "function") this.#loadCookies = options.cookies;
    else this.#cookies = options.cookies;
    this.#logger = options.logger;
  }

  /**
   * The token provider: for a negotiate redirect's token (`override`), and for the
   * `access_token=` query of a browser WebSocket, which cannot send headers.
   */
  get tokens(): AccessTokenProvider {
    return this.#tokens;
  }

  /**
   * Sends a request and resolves with its response, whatever the status (callers branch on
   * it); a 401 is retried once with a refreshed token first. The timeout bounds the wait for
   * the response headers; once this resolves, neither the timeout nor the signal applies to
   * the body unless `timeout` is `false` (then the signal goes to fetch as is and also ends
   * the body). Rejects with `signal.reason` on abort, a `TimeoutError` `DOMException` on
   * timeout, and an `Error` with the runtime's error as `cause` when fetch fails.
   */
  async request(request: HttpRequest): Promise<Response> {
    const { response } = await this.#exchange(request, false);
    return response;
  }

  /**
   * Like {@linkcode HttpClient.text}, for a binary body (a Long Polling poll with MessagePack).
   */
  async bytes(request: HttpRequest): Promise<HttpBytesResponse> {
    const { response, body } = await this.#exchange(request, "bytes");
    return { status: response.status, statusText: response.statusText, bytes: body as Uint8Array };
  }

  /**
   * Like {@linkcode HttpClient.request}, and also reads the body as text within the same
   * timeout.
   */
  async text(request: HttpRequest): Promise<HttpTextResponse> {
    const { response, body } = await this.#exchange(request, "text");
    return {
      status: response.status,
      statusText: response.statusText,
      text: body as string,
      headers: response.headers,
    };
  }

  /**
   * Like {@linkcode HttpClient.text}, but a 200's body goes to `sink` piece by piece as it
   * arrives, within the same timeout, and none of it is kept here: the receiver's decoder
   * enforces its size limit on each message instead of the whole body being buffered first (a
   * Long Polling poll). The body of any other status is read for its error message, only its
   * start (`text`). A throw from `sink` ends the body and rejects with that error.
   */
  async stream(request: HttpRequest, sink: (chunk: Uint8Array) => void): Promise<HttpTextResponse> {
    const { response, body } = await this.#exchange(request, sink);
    return {
      status: response.status,
      statusText: response.statusText,
      text: body as string,
      headers: response.headers,
    };
  }

  /**
   * The headers of a WebSocket upgrade to `url`, for runtimes that can send them: the same
   * user headers, bearer token and cookies as an HTTP request.
   */
  async headers(url: string, signal?: AbortSignal): Promise<Record<string, string>> {
    const token = await this.#tokens.get(signal, url);
    if (this.#loadCookies) await this.#jar();
    return this.#compose(url, token);
  }

  /**
   * {@linkcode HttpClient.headers} and the token they carry, asked for once: a browser's
   * WebSocket cannot send headers and puts the token in its `access_token=` query instead.
   */
  async upgrade(
    url: string,
    signal?: AbortSignal,
  ): Promise<{ headers: Record<string, string>; accessToken: string | undefined }> {
    const accessToken = await this.#tokens.get(signal, url);
    if (this.#loadCookies) await this.#jar();
    return { headers: this.#compose(url, accessToken), accessToken };
  }

  // The jar is code no browser needs: it is loaded by the first request that could use it.
  #jar(): Promise<void> {
    return this.#cookiesLoaded ??= this.#loadCookies!().then((jar) => {
      this.#cookies = jar;
      this.#loadCookies = undefined;
    });
  }

  async #exchange(
    request: HttpRequest,
    read: Read,
  ): Promise<{ response: Response; body: string | Uint8Array | undefined }> {
    const { signal } = request;
    signal?.throwIfAborted();
    if (this.#loadCookies) await this.#jar();
    // The token wait is outside the timeout: a factory may be waiting for a user to log in.
    // The signal still ends it.
    const first = await this.#attempt(request, await this.#tokens.get(signal, request.url), read);
    if (first.response.status !== 401) return first;
    const token = await this.#tokens.refresh(signal, request.url);
    if (token === undefined) return first;
    this.#logger?.log(
      LogLevel.Debug,
      `${request.what} request got 401: retrying once with a new access token.`,
    );
    // An unread body holds the connection (and is a leaked resource in Deno).
    if (!read) await first.response.body?.cancel().catch(() => {});
    return await this.#attempt(request, token, read);
  }

  async #attempt(
    request: HttpRequest,
    token: string | undefined,
    read: Read,
  ): Promise<{ response: Response; body: string | Uint8Array | undefined }> {
    const { url, signal, what } = request;
    // The signal may have aborted while the token was awaited.
    signal?.throwIfAborted();
    const headers = this.#compose(url, token);
    if (request.contentType !== undefined) headers["Content-Type"] = request.contentType;
    if (request.accept !== undefined) headers.Accept = request.accept;
    const timeout = request.timeout ?? this.#timeout;
    this.#logger?.log(LogLevel.Trace, `${what}: ${request.method} ${redact(url)}.`);

    // Without a timeout the caller's signal can go to fetch as is, and then also ends a
    // streaming body after this returns. With one, a controller of our own carries both,
    // and is let go once the response (and, for text, its body) is in.
    let controller: AbortController | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unfollow: (() => void) | undefined;
    let timedOut: DOMException | undefined;
    if (timeout !== false) {
      const c = controller = new AbortController();
      timer = setTimeout(() => {
        timedOut = new DOMException(
          `${what} request to ${redact(url)} timed out after ${timeout} ms.`,
          "TimeoutError",
        );
        c.abort(timedOut);
      }, timeout);
      unfollow = followSignal(c, signal);
    }
    try {
      const response = await this.#fetch(url, {
        method: request.method,
        headers,
        // The protocols type their frames as plain Uint8Array; they are always backed by an
        // ArrayBuffer, which is what BodyInit asks for.
        body: request.body as string | Uint8Array<ArrayBuffer> | undefined,
        credentials: this.#credentials,
        signal: controller?.signal ?? signal,
      });
      this.#cookies?.store(url, response.headers);
      const body = read === "text"
        ? await response.text()
        : read === "bytes"
        ? new Uint8Array(await response.arrayBuffer())
        : read
        ? await pour(response, read)
        : undefined;
      return { response, body };
    } catch (error) {
      if (error instanceof SinkError) throw error.cause;
      // Runtimes differ in what an aborted fetch rejects with; the contract is the reason.
      if (signal?.aborted) throw signal.reason;
      if (timedOut !== undefined) throw timedOut;
      throw new Error(`${what} request to ${redact(url)} failed: ${redact(describe(error))}`, {
        cause: redactError(error),
      });
    } finally {
      clearTimeout(timer);
      unfollow?.();
    }
  }

  #compose(url: string, token: string | undefined): Record<string, string> {
    const headers: Record<string, string> = { ...this.#headers };
    if (token !== undefined) {
      deleteHeader(headers, "authorization");
      headers.Authorization = `Bearer ${token}`;
    }
    const cookie = this.#cookies?.header(url);
    if (cookie !== undefined) {
      const own = deleteHeader(headers, "cookie");
      headers.Cookie = own === undefined ? cookie : `${own}; ${cookie}`;
    }
    return headers;
  }
}

/** Carries a throw of a stream's sink past the fetch error wrapping, to rethrow it as is. */
class SinkError {
  readonly cause: unknown;
  constructor(cause: unknown) {
    this.cause = cause;
  }
}

/**
 * Reads a 200's body into `sink` chunk by chunk and resolves `""`; for any other status, reads
 * the start of the body (for an error message) and resolves it as text.
 */
async function pour(response: Response, sink: (chunk: Uint8Array) => void): Promise<string> {
  const body = response.body;
  if (body === null) return "";
  const reader = body.getReader();
  const ok = response.status === 200;
  const start: Uint8Array[] = [];
  let length = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (ok) {
        try {
          sink(value);
        } catch (error) {
          throw new SinkError(error);
        }
      } else {
        start.push(value);
        length += value.length;
        if (length >= ERROR_BODY_BYTES) break;
      }
    }
  } finally {
    // Ends a body left unread (a sink's throw, an error body's rest) and its connection.
    reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  if (ok) return "";
  const bytes = new Uint8Array(Math.min(length, ERROR_BODY_BYTES));
  let offset = 0;
  for (const piece of start) {
    const take = Math.min(piece.length, bytes.length - offset);
    bytes.set(piece.subarray(0, take), offset);
    offset += take;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The {@linkcode HttpError} of a response whose status means failure: "`what` failed: status
 * text: the start of the body".
 *
 * @param what What the request was for ("Negotiate", "Poll", "Send"...).
 * @param response The failed response (or its {@linkcode HttpTextResponse}).
 * @param text Its body, or `""` when it was not read.
 */
export function httpError(
  what: string,
  response: Pick<Response, "status" | "statusText">,
  text: string,
): HttpError {
  // "Unauthorized: Status code '401'" is how @microsoft/signalr words it; users search for it.
  const reason = response.statusText || REASONS[response.status] || "";
  return new HttpError(
    `${what} failed: ${reason ? `${reason}: ` : ""}Status code '${response.status}'` +
      (text ? `: ${text.slice(0, 200)}` : ""),
    response.status,
  );
}

// Reason phrases for the statuses a hub answers with, for responses that carry none (HTTP/2).
const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Removes a header whatever its case and returns its value (plain records are case-sensitive). */
function deleteHeader(headers: Record<string, string>, lowerName: string): string | undefined {
  let value: string | undefined;
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() === lowerName) {
      value = headers[name];
      delete headers[name];
    }
  }
  return value;
}
