// The one runtime-specific part of TestHub: an HTTP server on 127.0.0.1 that hands web
// `Request`s to the hub and takes web `Response`s back, WebSocket upgrades with one socket
// shape, and the TCP relay in front of it (cut and freeze by port). Deno uses `Deno.serve`,
// Bun `Bun.serve`, and Node `node:http` with the `ws` package (Node has no WebSocket server);
// each lives in its own module, loaded only on its runtime.
import type { Cutter } from "./_server_transport.ts";

/** What a server-side WebSocket reports. */
export interface SocketEvents {
  /** The upgrade is done: frames may be sent. */
  open(): void;
  /** One message from the client: text, or the bytes of a binary message. */
  message(data: string | Uint8Array): void;
  /** The socket has ended; `clean`: with a close frame from the client. Called once. */
  close(clean: boolean): void;
}

/** A server-side WebSocket, the same on every runtime. */
export interface ServerSocket {
  /** Whether `send` may be called. */
  readonly writable: boolean;
  /** Bytes sent that the client has not taken yet. */
  readonly bufferedAmount: number;
  /** Starts reporting events; called once. */
  start(events: SocketEvents): void;
  /** Sends a text frame (a string) or a binary frame (bytes). */
  send(frame: string | Uint8Array): void;
  /** Starts the closing handshake. */
  close(code: number): void;
}

/** An upgrade: answer the request with `response`, then talk through `socket`. */
export interface Upgrade {
  readonly socket: ServerSocket;
  readonly response: Response;
}

/**
 * Handles one request. `port` is the client's port as the server saw it: the relay's side of
 * the relayed TCP connection, by which the relay cuts and freezes.
 */
export type RequestHandler = (request: Request, port: number) => Promise<Response>;

/** A listening server with its relay. */
export interface HubServer {
  /** The port clients connect to (the relay's). */
  readonly port: number;
  /** The relay: cuts and freezes connections by the port the handler was given. */
  readonly cutter: Cutter;
  /** Upgrades a WebSocket request that the handler is handling. */
  upgrade(request: Request): Upgrade;
  /**
   * Stops the server (answers under way finish), then the relay, which lets connections pass
   * on what was sent for up to `drainMs` before it cuts them.
   */
  close(drainMs: number): Promise<void>;
}

/** Starts a server on 127.0.0.1, a free port, with its relay. */
export type Listen = (handler: RequestHandler) => Promise<HubServer>;

interface RuntimeGlobals {
  Deno?: unknown;
  Bun?: unknown;
}

/** The server of the runtime this runs on: Deno, Bun, or else Node. */
export async function listen(handler: RequestHandler): Promise<HubServer> {
  const runtime = globalThis as RuntimeGlobals;
  const adapter: { listen: Listen } = runtime.Deno !== undefined
    ? await import("./_server_deno.ts")
    : runtime.Bun !== undefined
    ? await import("./_server_bun.ts")
    : await import("./_server_node.ts");
  return await adapter.listen(handler);
}

/** The part of the web `WebSocket` API that {@linkcode WebSocketLikeSocket} uses. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { wasClean: boolean }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number): void;
}

const OPEN = 1;
const noop = () => {};

/**
 * A {@linkcode ServerSocket} over a socket with the web `WebSocket` API (Deno's, and the `ws`
 * package's), which may come later than the upgrade's answer (`attach`), or never (`fail`).
 */
export class WebSocketLikeSocket implements ServerSocket {
  #socket: WebSocketLike | undefined;
  #events: SocketEvents | undefined;
  #ended = false;

  constructor(socket?: WebSocketLike) {
    this.#socket = socket;
  }

  get writable(): boolean {
    return this.#socket?.readyState === OPEN;
  }

  get bufferedAmount(): number {
    return this.#socket?.bufferedAmount ?? 0;
  }

  start(events: SocketEvents): void {
    this.#events = events;
    if (this.#socket) this.#bind(this.#socket, events);
    else if (this.#ended) events.close(false);
  }

  /** The socket, once the upgrade is done. */
  attach(socket: WebSocketLike): void {
    this.#socket = socket;
    if (this.#events) this.#bind(socket, this.#events);
  }

  /** The upgrade did not happen: the connection ended first. */
  fail(): void {
    if (this.#socket || this.#ended) return;
    this.#ended = true;
    this.#events?.close(false);
  }

  send(frame: string | Uint8Array): void {
    this.#socket?.send(frame);
  }

  close(code: number): void {
    try {
      this.#socket?.close(code);
    } catch {
      // already closing
    }
  }

  #bind(socket: WebSocketLike, events: SocketEvents): void {
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      const data = event.data;
      events.message(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
    };
    socket.onclose = (event) => events.close(event.wasClean);
    socket.onerror = noop;
    if (socket.readyState === OPEN) queueMicrotask(() => events.open());
    else socket.onopen = () => events.open();
  }
}
