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

/** Wraps anything thrown into an `Error`, so that no rejection is ever a string. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === "string") return new Error(value);
  return new Error(String(value), { cause: value });
}
