// TestHub's server on Node: `node:http`, with the `ws` package for WebSockets (Node has a
// WebSocket client but no server), behind the TCP relay. `ws` is imported here only, and this
// module is loaded only on Node.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import type { HubServer, RequestHandler, Upgrade, WebSocketLike } from "./_server_adapter.ts";
import { WebSocketLikeSocket } from "./_server_adapter.ts";
import { NodeTcpRelay } from "./_node_tcp_relay.ts";

/** The part of the `ws` package used here. */
interface WsModule {
  WebSocketServer: new (options: { noServer: true; perMessageDeflate: false }) => WsServer;
}

interface WsServer {
  handleUpgrade(
    request: IncomingMessage,
    socket: Socket,
    head: Uint8Array,
    callback: (socket: WebSocketLike) => void,
  ): void;
  close(): void;
}

/** Starts `node:http` on 127.0.0.1, a free port, and its relay. */
export async function listen(handler: RequestHandler): Promise<HubServer> {
  const ws = await import("ws") as unknown as WsModule;
  const sockets = new ws.WebSocketServer({ noServer: true, perMessageDeflate: false });
  const upgrades = new WeakMap<Response, WebSocketLikeSocket>();
  const inFlight = new Set<Promise<void>>();
  const server = createServer({ requestTimeout: 0 }, (incoming, outgoing) => {
    const answered = answer(handler, incoming, outgoing).catch(() => {
      outgoing.destroy();
    });
    inFlight.add(answered);
    answered.finally(() => inFlight.delete(answered));
  });
  server.on("upgrade", (incoming: IncomingMessage, socket: Socket, head: Uint8Array) => {
    socket.on("error", () => {});
    const port = socket.remotePort ?? 0;
    handler(toRequest(incoming), port).then((response) => {
      const upgraded = upgrades.get(response);
      if (!upgraded) return writeRaw(socket, response);
      socket.once("close", () => upgraded.fail());
      sockets.handleUpgrade(incoming, socket, head, (webSocket) => {
        upgraded.attach(webSocket);
      });
    }).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const relay = await NodeTcpRelay.open((server.address() as { port: number }).port);
  return {
    port: relay.port,
    cutter: relay,
    upgrade(request: Request): Upgrade {
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        throw new TypeError("Not a WebSocket upgrade request.");
      }
      const socket = new WebSocketLikeSocket();
      const response = new Response(null, { status: 200 });
      upgrades.set(response, socket);
      return { socket, response };
    },
    async close(drainMs: number): Promise<void> {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Answers under way finish (the last poll's Close, the end of an event stream).
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(inFlight),
        new Promise((resolve) => timer = setTimeout(resolve, drainMs)),
      ]);
      clearTimeout(timer);
      server.closeIdleConnections();
      await relay.close(drainMs);
      server.closeAllConnections();
      sockets.close();
      await stopped;
    },
  };
}

function toRequest(incoming: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const method = incoming.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  const url = `http://${incoming.headers.host ?? "127.0.0.1"}${incoming.url ?? "/"}`;
  return new Request(url, {
    method,
    headers,
    body: hasBody ? Readable.toWeb(incoming) as ReadableStream<Uint8Array> : null,
    // Node's fetch needs it for a streamed body.
    duplex: "half",
  } as RequestInit);
}

async function answer(
  handler: RequestHandler,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
): Promise<void> {
  const response = await handler(toRequest(incoming), incoming.socket.remotePort ?? 0);
  outgoing.writeHead(response.status, response.statusText, headerList(response.headers));
  if (!response.body) {
    outgoing.end();
    return;
  }
  // Each chunk goes out as it comes (an event stream); the client going away cancels the body.
  const reader = response.body.getReader();
  outgoing.once("close", () => {
    reader.cancel().catch(() => {});
  });
  outgoing.flushHeaders();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!outgoing.write(value)) {
      await new Promise<void>((resolve) => {
        outgoing.once("drain", resolve);
        outgoing.once("close", resolve);
      });
    }
  }
  outgoing.end();
}

function headerList(headers: Headers): string[] {
  const list: string[] = [];
  for (const [name, value] of headers) {
    if (name === "set-cookie") continue;
    list.push(name, value);
  }
  for (const cookie of headers.getSetCookie()) list.push("set-cookie", cookie);
  return list;
}

/** An answer to an upgrade request that was refused: plain HTTP/1.1, then the end. */
async function writeRaw(socket: Socket, response: Response): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  let head = `HTTP/1.1 ${response.status} ${response.statusText}\r\n`;
  const lines = headerList(response.headers);
  for (let i = 0; i < lines.length; i += 2) head += `${lines[i]}: ${lines[i + 1]}\r\n`;
  head += `content-length: ${body.byteLength}\r\nconnection: close\r\n\r\n`;
  socket.write(head);
  socket.end(body);
}
