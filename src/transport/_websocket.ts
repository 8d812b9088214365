import type { WebSocketConstructor } from "../connection/http_connection_options.ts";
import type { Logger } from "../logger.ts";
import { LogLevel } from "../logger.ts";
import type { Transport, TransportConnectOptions, TransportReceiver } from "./transport.ts";

// Beyond this many unsent bytes, send() makes the caller wait for the socket to drain.
const HIGH_WATER = 1 << 20;
const DRAIN_POLL_MS = 2;
// Browsers cannot set headers on a WebSocket; Deno, Node (undici) and Bun can.
const CAN_SEND_HEADERS = "Deno" in globalThis || "Bun" in globalThis ||
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node ===
    "string";

const EVENTS = ["open", "message", "error", "close"] as const;

/** WebSockets on the runtime's native `WebSocket`. */
export class WebSocketTransport implements Transport {
  readonly #WebSocket: WebSocketConstructor;
  #socket: WebSocket | undefined;
  #receiver: TransportReceiver | undefined;
  #logger: Logger | undefined;
  #closing: PromiseWithResolvers<void> | undefined;
  #closed = false;
  #errorText = "";
  #opened = false;
  #listener: ((event: Event) => void) | undefined;
  /** Set while connecting. */
  #opening:
    | PromiseWithResolvers<void> & {
      signal: AbortSignal | undefined;
      onAbort: () => void;
      target: string;
    }
    | undefined;

  constructor(webSocket: WebSocketConstructor) {
    this.#WebSocket = webSocket;
  }

  connect(url: string, options: TransportConnectOptions): Promise<void> {
    const { receiver, signal, logger } = options;
    this.#receiver = receiver;
    this.#logger = logger;
    signal?.throwIfAborted();
    let target = url.replace(/^http/i, "ws");
    let socket: WebSocket;
    if (CAN_SEND_HEADERS) {
      socket = new this.#WebSocket(target, { headers: { ...options.headers } });
    } else {
      if (options.accessToken) {
        target += (target.includes("?") ? "&" : "?") + "access_token=" +
          encodeURIComponent(options.accessToken);
      }
      socket = new this.#WebSocket(target);
    }
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    logger.log(LogLevel.Debug, `WebSocket connecting to ${redact(target)}.`);
    const onAbort = () => {
      socket.close();
      this.#endOpening(signal!.reason);
    };
    const opening = this.#opening = { ...Promise.withResolvers<void>(), signal, onAbort, target };
    signal?.addEventListener("abort", onAbort, { once: true });
    // One function listens to all four events: in Deno each on* attribute costs about half a
    // kilobyte per socket on top of its listener. It is made apart from this call's scope, so
    // nothing of the call (its signal, promise and URL) stays alive once open. A function, not
    // an object with handleEvent, which some WebSocket implementations (ws before 8) lack.
    this.#listener = this.#makeListener();
    for (const type of EVENTS) socket.addEventListener(type, this.#listener);
    return opening.promise;
  }

  #makeListener(): (event: Event) => void {
    return (event) => this.#handleEvent(event);
  }

  #handleEvent(event: Event): void {
    switch (event.type) {
      case "message": {
        const data = (event as MessageEvent).data;
        this.#receiver!.onFrame(
          typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer),
        );
        return;
      }
      case "open":
        this.#opened = true;
        this.#socket?.removeEventListener("open", this.#listener!);
        this.#endOpening();
        return;
      case "error":
        this.#errorText = (event as ErrorEvent).message ?? "";
        return;
      case "close":
        return this.#onClose(event as CloseEvent);
    }
  }

  /** Settles connect(): resolved when `error` is undefined. */
  #endOpening(error?: unknown): void {
    const opening = this.#opening;
    if (!opening) return;
    this.#opening = undefined;
    opening.signal?.removeEventListener("abort", opening.onAbort);
    if (error === undefined) opening.resolve();
    else opening.reject(error);
  }

  #onClose(event: CloseEvent): void {
    this.#closed = true;
    if (!this.#opened) {
      // Closed before it opened (refused, or aborted): connect() rejects, if it has not yet.
      const errorText = this.#errorText;
      this.#endOpening(
        new Error(
          `WebSocket failed to connect to ${redact(this.#opening?.target ?? "")}${
            errorText ? `: ${errorText}` : ""
          } (close code ${event.code}).`,
        ),
      );
      return;
    }
    const requested = this.#closing !== undefined;
    this.#closing?.resolve();
    const clean = requested || (event.wasClean && event.code === 1000);
    const errorText = this.#errorText;
    this.#receiver?.onClose(
      requested ? undefined : new Error(
        clean
          ? "The server closed the WebSocket without a SignalR Close message."
          : `WebSocket closed with status code ${event.code}${
            event.reason ? ` (${event.reason})` : ""
          }${errorText ? `: ${errorText}` : ""}.`,
      ),
    );
  }

  send(frame: string | Uint8Array): Promise<void> | undefined {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error("Cannot send: the WebSocket is not open."));
    }
    socket.send(frame as string);
    if (socket.bufferedAmount > HIGH_WATER) return this.#drain(socket);
    return undefined;
  }

  #drain(socket: WebSocket): Promise<void> {
    // WebSocket has no drain event: poll the buffered amount until half of it is gone.
    return new Promise((resolve) => {
      const check = () => {
        if (socket.bufferedAmount <= HIGH_WATER / 2 || socket.readyState !== WebSocket.OPEN) {
          resolve();
        } else setTimeout(check, DRAIN_POLL_MS);
      };
      setTimeout(check, DRAIN_POLL_MS);
    });
  }

  close(): Promise<void> {
    const socket = this.#socket;
    if (!socket || this.#closed) return Promise.resolve();
    if (!this.#closing) {
      this.#closing = Promise.withResolvers<void>();
      this.#logger?.log(LogLevel.Debug, "WebSocket closing.");
      // The close frame is queued behind everything already sent, so awaiting the close event
      // means every earlier frame was written.
      socket.close(1000);
    }
    return this.#closing.promise;
  }
}

/** Hides secrets (tokens) in a URL that goes to the log. */
export function redact(url: string): string {
  return url.replace(/([?&](?:access_token|id)=)[^&]*/gi, "$1***");
}
