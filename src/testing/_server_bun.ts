// TestHub's server on Bun: `Bun.serve` (with its WebSockets), behind the TCP relay.
import type {
  HubServer,
  RequestHandler,
  ServerSocket,
  SocketEvents,
  Upgrade,
} from "./_server_adapter.ts";
import { NodeTcpRelay } from "./_node_tcp_relay.ts";

/** The part of Bun's API used here. */
interface BunGlobal {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout: number;
    fetch(request: Request, server: BunServer): Promise<Response | undefined>;
    websocket: {
      idleTimeout: number;
      sendPings: boolean;
      perMessageDeflate: boolean;
      open(socket: BunWebSocket): void;
      message(socket: BunWebSocket, message: string | Uint8Array): void;
      close(socket: BunWebSocket, code: number): void;
    };
  }): BunServer;
}

interface BunServer {
  readonly port: number;
  upgrade(request: Request, options: { data: BunSocket }): boolean;
  requestIP(request: Request): { port: number } | null;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

interface BunWebSocket {
  readonly data: BunSocket;
  readonly readyState: number;
  getBufferedAmount?(): number;
  send(data: string | Uint8Array): number;
  close(code?: number): void;
}

const OPEN = 1;
const ABNORMAL = 1006;

/** Starts `Bun.serve` on 127.0.0.1, a free port, and its relay. */
export async function listen(handler: RequestHandler): Promise<HubServer> {
  const bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
  const pending = new WeakMap<Request, BunServer>();
  const upgraded = new WeakSet<Response>();
  const server = bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Long polls and event streams wait longer than Bun's default 10 s.
    idleTimeout: 0,
    async fetch(request, server) {
      pending.set(request, server);
      const response = await handler(request, server.requestIP(request)?.port ?? 0);
      return upgraded.has(response) ? undefined : response;
    },
    websocket: {
      // The hub pings and times clients out itself, as ASP.NET Core does.
      idleTimeout: 0,
      sendPings: false,
      perMessageDeflate: false,
      open: (socket) => socket.data.opened(socket),
      message: (socket, message) => socket.data.message(message),
      close: (socket, code) => socket.data.closed(code),
    },
  });
  const relay = await NodeTcpRelay.open(server.port);
  return {
    port: relay.port,
    cutter: relay,
    upgrade(request: Request): Upgrade {
      const socket = new BunSocket();
      if (!pending.get(request)?.upgrade(request, { data: socket })) {
        throw new TypeError("Not a WebSocket upgrade request.");
      }
      const response = new Response(null, { status: 101 });
      upgraded.add(response);
      return { socket, response };
    },
    async close(drainMs: number): Promise<void> {
      await server.stop(false);
      await relay.close(drainMs);
    },
  };
}

/** A {@linkcode ServerSocket} over Bun's server-side WebSocket. */
class BunSocket implements ServerSocket {
  #socket: BunWebSocket | undefined;
  #events: SocketEvents | undefined;
  #opened = false;

  get writable(): boolean {
    return this.#socket?.readyState === OPEN;
  }

  get bufferedAmount(): number {
    return this.#socket?.getBufferedAmount?.() ?? 0;
  }

  start(events: SocketEvents): void {
    this.#events = events;
    if (this.#socket && !this.#opened) this.opened(this.#socket);
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

  opened(socket: BunWebSocket): void {
    this.#socket = socket;
    if (!this.#events) return;
    this.#opened = true;
    this.#events.open();
  }

  message(message: string | Uint8Array): void {
    this.#events?.message(message);
  }

  closed(code: number): void {
    this.#events?.close(code !== ABNORMAL);
  }
}
