/**
 * Error classes that callers branch on. Every rejection of this library is an `Error`; aborts
 * reject with the `AbortSignal`'s own `reason`.
 *
 * @module
 */

/**
 * The server answered a call with an error: `message` is the server's text, unchanged.
 *
 * @example Branch on a hub error
 * ```ts
 * import { HubError } from "@signalrcore/client";
 * const error: unknown = new HubError("Name is required");
 * if (error instanceof HubError) console.log("server said:", error.message);
 * ```
 */
export class HubError extends Error {
  /**
   * Creates a hub error with the server's text.
   *
   * @param message The error text sent by the server.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HubError";
  }
}

/**
 * An HTTP request (negotiate, or a transport's request) failed with a status code.
 *
 * @example Detect an authentication failure
 * ```ts
 * import { HttpError } from "@signalrcore/client";
 * const error: unknown = new HttpError("Unauthorized", 401);
 * if (error instanceof HttpError && error.status === 401) console.log("log in again");
 * ```
 */
export class HttpError extends Error {
  /** The HTTP status code of the failed response. */
  readonly status: number;

  /**
   * Creates an HTTP error.
   *
   * @param message What failed, including the status text.
   * @param status The HTTP status code.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
  }

  /** {@linkcode HttpError.status} by the name `@microsoft/signalr` gives it. */
  get statusCode(): number {
    return this.status;
  }
}

/**
 * The SignalR handshake failed: the server refused it (its text is in `message`), it timed out,
 * or its response was not valid.
 *
 * @example
 * ```ts
 * import { HandshakeError } from "@signalrcore/client";
 * const error: unknown = new HandshakeError("The protocol 'xml' is not supported.");
 * if (error instanceof HandshakeError) console.log("handshake refused:", error.message);
 * ```
 */
export class HandshakeError extends Error {
  /**
   * Creates a handshake error.
   *
   * @param message The server's text or a description of what was wrong.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HandshakeError";
  }
}

/**
 * The connection went away (stopped, closed by the server, or lost) while a call was pending or
 * a stream was open. `cause` holds the reason when there was one.
 *
 * @example
 * ```ts
 * import { ConnectionClosedError } from "@signalrcore/client";
 * const error: unknown = new ConnectionClosedError("Connection closed", { cause: new Error("lost") });
 * if (error instanceof ConnectionClosedError) console.log("retry later:", error.cause);
 * ```
 */
export class ConnectionClosedError extends Error {
  /**
   * Creates a connection-closed error.
   *
   * @param message Which call or stream was cut off.
   * @param options Standard error options; `cause` is why the connection closed.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionClosedError";
  }
}

/**
 * The peer sent data that breaks the SignalR protocol: malformed JSON, a message without its
 * required fields, or a record larger than the receive limit. The connection is closed with it.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@signalrcore/client";
 * const error: unknown = new ProtocolError("Invalid JSON in a hub message.");
 * if (error instanceof ProtocolError) console.log("bad server data:", error.message);
 * ```
 */
export class ProtocolError extends Error {
  /**
   * Creates a protocol error.
   *
   * @param message What was wrong with the data.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}

/**
 * A call, or `send`/`invoke`/`stream`, was made while the connection was not Connected: before
 * `start()` resolved, while reconnecting, while stopping, or after it closed. One type whatever
 * the state; `state` says which it was.
 *
 * @example
 * ```ts
 * import { NotConnectedError } from "@signalrcore/client";
 * const error: unknown = new NotConnectedError("Cannot invoke", "Reconnecting");
 * if (error instanceof NotConnectedError) console.log("try again once connected:", error.state);
 * ```
 */
export class NotConnectedError extends Error {
  /** The connection's state when the call was refused. */
  readonly state: string;

  /**
   * Creates a not-connected error.
   *
   * @param message What could not be done.
   * @param state The connection's state at that moment.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, state: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotConnectedError";
    this.state = state;
  }
}

/**
 * Nothing arrived from the server for `serverTimeout` ms: the client ended the connection.
 * Automatic reconnect, when enabled, starts after it.
 *
 * @example
 * ```ts
 * import { ServerTimeoutError } from "@signalrcore/client";
 * const error: unknown = new ServerTimeoutError(30_000);
 * if (error instanceof ServerTimeoutError) console.log("silent for", error.timeout, "ms");
 * ```
 */
export class ServerTimeoutError extends Error {
  /** The server timeout that passed, in ms. */
  readonly timeout: number;

  /**
   * Creates a server-timeout error.
   *
   * @param timeout The server timeout, in ms.
   * @param options Standard error options (`cause`).
   */
  constructor(timeout: number, options?: ErrorOptions) {
    // It begins with @microsoft/signalr's words, which users search for.
    super(
      `Server timeout elapsed without receiving a message from the server (nothing for ${timeout} ms).`,
      options,
    );
    this.name = "ServerTimeoutError";
    this.timeout = timeout;
  }
}

/**
 * The transport ended without a SignalR Close message: the socket was cut, the server went
 * away, or a request of an HTTP transport failed. `cause` holds the transport's own error when
 * there is one. Automatic reconnect, when enabled, starts after it.
 *
 * @example
 * ```ts
 * import { TransportClosedError } from "@signalrcore/client";
 * const error: unknown = new TransportClosedError("WebSocket closed with status code 1006.");
 * if (error instanceof TransportClosedError) console.log("connection lost:", error.message);
 * ```
 */
export class TransportClosedError extends Error {
  /**
   * Creates a transport-closed error.
   *
   * @param message How the transport ended.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TransportClosedError";
  }
}

/**
 * The server closed the connection with a Close message that carried an error (for example,
 * when a hub's `OnConnectedAsync` threw). `serverMessage` is the server's text, unchanged;
 * `allowReconnect` is what the server allowed.
 *
 * @example
 * ```ts
 * import { ServerCloseError } from "@signalrcore/client";
 * const error: unknown = new ServerCloseError("Server is shutting down", true);
 * if (error instanceof ServerCloseError && error.allowReconnect) console.log("will come back");
 * ```
 */
export class ServerCloseError extends Error {
  /** The server's error text, unchanged. */
  readonly serverMessage: string;
  /** Whether the server allowed the client to reconnect. */
  readonly allowReconnect: boolean;

  /**
   * Creates a server-close error.
   *
   * @param serverMessage The Close message's `error`.
   * @param allowReconnect The Close message's `allowReconnect` (missing means `false`).
   * @param options Standard error options (`cause`).
   */
  constructor(serverMessage: string, allowReconnect: boolean, options?: ErrorOptions) {
    super(`Server closed the connection with an error: ${serverMessage}`, options);
    this.name = "ServerCloseError";
    this.serverMessage = serverMessage;
    this.allowReconnect = allowReconnect;
  }
}

/**
 * Negotiate failed without an HTTP status to blame: the answer was not JSON, was malformed,
 * carried an `error`, came from classic ASP.NET SignalR, redirected too often or to a URL that
 * cannot be used. `cause` holds the runtime's own error when there is one. An HTTP status
 * failure is an {@linkcode HttpError} instead.
 *
 * @example
 * ```ts
 * import { NegotiateError } from "@signalrcore/client";
 * const error: unknown = new NegotiateError("Negotiate failed: the response is not JSON.");
 * if (error instanceof NegotiateError) console.log("the server's negotiate answer is wrong");
 * ```
 */
export class NegotiateError extends Error {
  /**
   * Creates a negotiate error.
   *
   * @param message What was wrong with the answer.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NegotiateError";
  }
}

/**
 * Automatic reconnect gave up: the retry policy returned `null` after at least one failed
 * attempt. `cause` is the last attempt's error. (A policy that returns `null` for the first
 * attempt declines to reconnect at all: there is no Reconnecting state, and `onclose` gets the
 * reason the connection was lost.)
 *
 * @example
 * ```ts
 * import { ReconnectError } from "@signalrcore/client";
 * const error: unknown = new ReconnectError(3, new Error("refused"));
 * if (error instanceof ReconnectError) console.log("gave up after", error.attempts, "attempts");
 * ```
 */
export class ReconnectError extends Error {
  /** How many reconnect attempts failed. */
  readonly attempts: number;

  /**
   * Creates a reconnect error.
   *
   * @param attempts The number of failed attempts.
   * @param cause The last error.
   */
  constructor(attempts: number, cause: Error) {
    super(
      `Reconnect gave up after ${attempts} failed attempt(s); last error: ${cause.message}`,
      { cause },
    );
    this.name = "ReconnectError";
    this.attempts = attempts;
  }
}

/** Wraps anything thrown into an `Error`, so that no rejection is ever a string. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === "string") return new Error(value);
  return new Error(String(value), { cause: value });
}

/** The text of anything thrown, for a log line. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
