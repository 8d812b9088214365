// WebSockets on the runtime's native `WebSocket` (or an injected constructor).
import type { WebSocketConstructor } from "../connection/http_connection_options.ts";
import { TransportClosedError } from "../errors.ts";
import { type Logger, LogLevel } from "../logger.ts";
import { redact } from "../http/_redact.ts";
import { cut } from "./_batch.ts";
import type {
  Transport,
  TransportConnectOptions,
  TransportFactory,
  TransportFeatures,
  TransportReceiver,
} from "./transport.ts";

// Beyond this many unsent bytes, send() makes the caller wait for the socket to drain.
const HIGH_WATER = 1 << 20;
const DRAIN_POLL_MS = 2;
// The WebSocket API's readyState values, by the standard (not read from a global, which an
// injected constructor's sockets need not share).
const OPEN = 1;
// How long a transport that failed on its own waits for the peer's close frame.
const FAILED_CLOSE_MS = 5_000;
// A small batch is cut into frames of about SMALL_FRAME characters: Deno's WebSocket writes a
// larger frame as two syscalls (header, then payload) with Nagle on, and a server that delays
// its ACK of the lone header then stalls the payload for ~40 ms; a request/response exchange
// (pipelined invokes) would pay that on every batch. A large batch means a producer that keeps
// sending (an upload): there each send call costs more than an occasional stall, so it goes out
// in LARGE_FRAME pieces. Node's own WebSocket needs no small frames: see writesWholeFrames.
const SMALL_FRAME = 1000;
const LARGE_FRAME = 32 * 1024;

const FEATURES: TransportFeatures = { inherentKeepAlive: false, statefulReconnect: true };
const EVENTS = ["open", "message", "error", "close"] as const;

/**
 * Connects WebSockets with the given constructor. `connectTimeout` bounds the opening: the
 * WebSocket API has no timeout of its own, and a server that accepts the TCP connection but
 * never answers the upgrade would leave it connecting for good.
 */
export function webSocketTransport(
  WebSocket: WebSocketConstructor,
  { connectTimeout }: { readonly connectTimeout: number },
): TransportFactory {
  const small = writesWholeFrames(WebSocket) ? LARGE_FRAME : SMALL_FRAME;
  return {
    name: "WebSockets",
    connect: (options) => new WebSocketTransport(WebSocket, small).connect(options, connectTimeout),
  };
}

/**
 * Whether `WebSocket` is Node's own (undici's), which writes each frame in one system call: the
 * small-frame cut only adds writes there (about 14% of the CPU of pipelined calls, bench/README.md
 * "On Node"). Nothing in the WebSocket API tells its sockets from Deno's, so the runtime is asked
 * (Deno and Bun define `process` too); any other WebSocket, injected or not, keeps the cut.
 */
export function writesWholeFrames(WebSocket: unknown, globals: object = globalThis): boolean {
  const g = globals as {
    WebSocket?: unknown;
    Deno?: unknown;
    Bun?: unknown;
    process?: { versions?: { node?: string } };
  };
  return WebSocket === g.WebSocket && g.Deno === undefined && g.Bun === undefined &&
    typeof g.process?.versions?.node === "string";
}

class WebSocketTransport implements Transport {
  readonly name = "WebSockets";
  readonly features = FEATURES;
  readonly #WebSocket: WebSocketConstructor;
  /** The frame size a small batch is cut to. */
  readonly #small: number;
  #socket: WebSocket | undefined;
  #receiver: TransportReceiver | undefined;
  #logger: Logger | undefined;
  /** Set once the end is reported (or connecting failed): later events are ignored. */
  #closed = false;
  #closing: PromiseWithResolvers<void> | undefined;
  #failure: Error | undefined;
  #errorText = "";
  #listener: ((event: Event) => void) | undefined;
  /** Set while connecting. */
  #opening:
    | PromiseWithResolvers<Transport> & {
      signal: AbortSignal | undefined;
      onAbort: () => void;
      target: string;
      timer: ReturnType<typeof setTimeout> | undefined;
    }
    | undefined;

  constructor(webSocket: WebSocketConstructor, small: number) {
    this.#WebSocket = webSocket;
    this.#small = small;
  }

  connect(options: TransportConnectOptions, timeout: number): Promise<Transport> {
    const { receiver, signal, logger } = options;
    this.#receiver = receiver;
    this.#logger = logger;
    signal?.throwIfAborted();
    const target = options.url.replace(/^http/i, "ws");
    const { socket, url } = this.#open(target, options);
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    logger.log(LogLevel.Debug, `WebSocket connecting to ${redact(url)}.`);
    const onAbort = () => {
      this.#endOpening(signal!.reason);
      socket.close();
    };
    const opening = this.#opening = {
      ...Promise.withResolvers<Transport>(),
      signal,
      onAbort,
      target: url,
      timer: undefined as ReturnType<typeof setTimeout> | undefined,
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    // One function listens to all four events: in Deno each on* attribute costs about half a
    // kilobyte per socket on top of its listener. It is made apart from this call's scope, so
    // nothing of the call (its signal, promise and URL) stays alive once open. A function, not
    // an object with handleEvent, which some WebSocket implementations (ws before 8) lack.
    this.#listener = this.#makeListener();
    for (const type of EVENTS) socket.addEventListener(type, this.#listener);
    // Set after the listeners: `deno test` runs queued microtasks inside setTimeout, so an open
    // event queued as one could otherwise come before anyone listens.
    opening.timer = setTimeout(() => {
      this.#endOpening(
        new DOMException(
          `The WebSocket upgrade at ${redact(url)} was not answered within ${timeout} ms.`,
          "TimeoutError",
        ),
      );
      // A close() while connecting fails the connection: the TCP connection goes too.
      socket.close();
    }, timeout);
    if (this.#opening !== opening) clearTimeout(opening.timer);
    return opening.promise;
  }

  /**
   * Deno, Node (undici, ws) and Bun take `{ headers }` as the second argument; a browser reads
   * it as a sub-protocol named "[object Object]" and throws a SyntaxError. Trying it tells which
   * kind of constructor this is, whatever the runtime: a browser gets the token in the query.
   */
  #open(target: string, options: TransportConnectOptions): { socket: WebSocket; url: string } {
    try {
      return {
        socket: new this.#WebSocket(target, { headers: { ...options.headers } }),
        url: target,
      };
    } catch (error) {
      if (!(error instanceof DOMException && error.name === "SyntaxError")) throw error;
    }
    const url = options.accessToken === undefined ? target : target +
      (target.includes("?") ? "&" : "?") + "access_token=" +
      encodeURIComponent(options.accessToken);
    return { socket: new this.#WebSocket(url), url };
  }

  #makeListener(): (event: Event) => void {
    return (event) => this.#handleEvent(event);
  }

  #handleEvent(event: Event): void {
    if (this.#closed) return;
    switch (event.type) {
      case "message": {
        const data = (event as MessageEvent).data;
        this.#receiver!.onFrame(
          typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer),
        );
        return;
      }
      case "open":
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
    clearTimeout(opening.timer);
    opening.signal?.removeEventListener("abort", opening.onAbort);
    if (error === undefined) opening.resolve(this);
    else {
      this.#closed = true;
      opening.reject(error);
    }
  }

  #onClose(event: CloseEvent): void {
    if (this.#opening) {
      // Closed before it opened (refused): connect() rejects.
      const errorText = this.#errorText;
      this.#endOpening(
        new Error(
          `WebSocket failed to connect to ${redact(this.#opening.target)}${
            errorText ? `: ${errorText}` : ""
          } (close code ${event.code}).`,
        ),
      );
      this.#detach();
      return;
    }
    const errorText = this.#errorText;
    // Deno reports an abnormal end (the TCP connection cut, a close frame with an invalid code)
    // as 0; the standard's code for it is 1006.
    const code = event.code === 0 ? 1006 : event.code;
    this.#report(
      this.#failure ?? (this.#closing ? undefined : new TransportClosedError(
        event.wasClean && code === 1000
          ? "The server closed the WebSocket without a SignalR Close message."
          : `WebSocket closed with status code ${code}${event.reason ? ` (${event.reason})` : ""}${
            errorText ? `: ${errorText}` : ""
          }.`,
      )),
    );
  }

  /** Reports the end once, and lets go of the socket's events. */
  #report(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#detach();
    this.#closing?.resolve();
    this.#receiver?.onClose(error);
  }

  #detach(): void {
    const socket = this.#socket;
    if (socket && this.#listener) {
      for (const type of EVENTS) socket.removeEventListener(type, this.#listener);
    }
  }

  send(frames: readonly (string | Uint8Array)[], size: number): Promise<void> | undefined {
    const socket = this.#socket!;
    if (this.#closed || this.#closing || socket.readyState !== OPEN) {
      return Promise.reject(new TransportClosedError("Cannot send: the WebSocket is not open."));
    }
    try {
      cut(frames, size, size >= LARGE_FRAME ? LARGE_FRAME : this.#small, (piece) => {
        socket.send(piece as string);
      });
    } catch (cause) {
      const error = new TransportClosedError("The WebSocket refused a frame.", { cause });
      this.#fail(error);
      return Promise.reject(error);
    }
    if (socket.bufferedAmount > HIGH_WATER) return this.#drain(socket);
    return undefined;
  }

  #drain(socket: WebSocket): Promise<void> {
    // WebSocket has no drain event: poll the buffered amount until half of it is gone.
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.#closed || socket.readyState !== OPEN) {
          reject(new TransportClosedError("The WebSocket closed before the data was written."));
        } else if (socket.bufferedAmount <= HIGH_WATER / 2) resolve();
        else setTimeout(check, DRAIN_POLL_MS);
      };
      setTimeout(check, DRAIN_POLL_MS);
    });
  }

  #fail(error: Error): void {
    if (this.#closed || this.#closing) return;
    this.#failure = error;
    this.close(FAILED_CLOSE_MS);
  }

  close(timeout: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (!this.#closing) {
      const closing = this.#closing = Promise.withResolvers<void>();
      this.#logger?.log(LogLevel.Debug, "WebSocket closing.");
      // The close frame is queued behind everything already sent, so the close event means
      // every earlier frame was written. A peer that stopped answering never sends its close
      // frame: past the bound the end is reported anyway. The standard API cannot cut the TCP
      // connection, so Deno's, Node's and browsers' sockets wait on (a Node or Deno process
      // then stays alive); a socket that can (`terminate()`: the `ws` package's, Bun's) is cut.
      const socket = this.#socket as WebSocket & { terminate?: unknown };
      socket.close(1000);
      const timer = setTimeout(() => {
        this.#logger?.log(
          LogLevel.Debug,
          `The WebSocket did not confirm its close within ${timeout} ms; closed anyway.`,
        );
        this.#report(this.#failure);
        if (typeof socket.terminate === "function") {
          try {
            socket.terminate();
          } catch (error) {
            this.#logger?.log(LogLevel.Debug, `terminate() threw: ${error}`);
          }
        }
      }, timeout);
      closing.promise.then(() => clearTimeout(timer));
    }
    return this.#closing.promise;
  }
}
