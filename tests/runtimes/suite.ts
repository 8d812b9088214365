/**
 * The cross-runtime suite: the client's TypeScript sources, run directly by Node (22.18+ strips
 * the types) and Bun, against the ASP.NET Core interop hub. tests/runtimes_test.ts starts the hub
 * and runs this file once per runtime:
 *
 * ```sh
 * node tests/runtimes/suite.ts http://127.0.0.1:5000 "NodeJS; 22.23.3"
 * ```
 *
 * The first argument is the hub server's base URL, the second what the `X-SignalR-User-Agent`
 * header must name in parentheses. On each transport with each hub protocol: start (and the
 * user agent, seen by the hub); invoke; a server stream read with `for await` and with
 * `subscribe`; uploads from a `Subject` and from a `ReadableStream`; a client result; reconnect
 * after the hub drops the transport; stop. Then the access token on every transport, stateful
 * reconnect on WebSockets (through a relay that cuts the WebSocket connection under it), a peer
 * that never confirms the close on an injected `ws` socket, and one that never answers the
 * upgrade. Exits non-zero when a step fails, and on any unhandled rejection or uncaught
 * exception.
 *
 * Plain TypeScript with erasable syntax only, importing the sources by relative path: what Node
 * and Bun run without a build step.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect, createServer, type Socket } from "node:net";
import process from "node:process";
import WS from "ws";
import {
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  HubConnectionState,
  type HubProtocol,
  JsonHubProtocol,
  Subject,
  type TransportName,
} from "../../mod.ts";
import { MessagePackHubProtocol } from "../../msgpack.ts";

const [baseUrl, expectedAgent] = process.argv.slice(2);
if (!baseUrl || !expectedAgent) {
  console.error("usage: suite.ts <hub base URL> <expected user agent runtime>");
  process.exit(2);
}

let failures = 0;
function fail(what: string, error: unknown): void {
  failures++;
  process.exitCode = 1;
  console.error(`FAIL ${what}:`, error);
}
process.on("unhandledRejection", (reason) => fail("unhandled rejection", reason));
process.on("uncaughtException", (error) => fail("uncaught exception", error));

/** Rejects when `promise` does not settle within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const TRANSPORT_TYPES: Record<TransportName, HttpTransportType> = {
  WebSockets: HttpTransportType.WebSockets,
  ServerSentEvents: HttpTransportType.ServerSentEvents,
  LongPolling: HttpTransportType.LongPolling,
};

interface Variant {
  readonly transport: TransportName;
  readonly protocol: "json" | "messagepack";
}

const VARIANTS: readonly Variant[] = [
  { transport: "WebSockets", protocol: "json" },
  { transport: "ServerSentEvents", protocol: "json" },
  { transport: "LongPolling", protocol: "json" },
  { transport: "WebSockets", protocol: "messagepack" },
  { transport: "LongPolling", protocol: "messagepack" },
];

async function run(variant: Variant): Promise<void> {
  const { transport, protocol } = variant;
  const hubProtocol: HubProtocol = protocol === "json"
    ? new JsonHubProtocol()
    : new MessagePackHubProtocol();
  const connection: HubConnection = new HubConnectionBuilder()
    .withUrl(`${baseUrl}/hub`, { transport: TRANSPORT_TYPES[transport] })
    .withHubProtocol(hubProtocol)
    .withAutomaticReconnect([0])
    .configureLogging(process.env.SUITE_LOG ? 0 : 4)
    .build();
  connection.on("Double", (n: number) => n * 2);
  try {
    await within(connection.start(), 10_000, "start");
    assert.equal(connection.transport, transport);
    assert.equal(await connection.invoke("GetProtocol"), protocol);
    const agent = await connection.invoke<string | null>("GetHeader", "X-SignalR-User-Agent");
    assert.match(agent ?? "", /^@signalrcore\/client\/\S+ \(/);
    assert.ok(agent!.endsWith(`(${expectedAgent})`), `user agent ${agent}`);

    assert.equal(await connection.invoke("Add", 20, 22), 42);

    const read: number[] = [];
    for await (const n of connection.stream<number>("Counter", 5, 0)) read.push(n);
    assert.deepEqual(read, [0, 1, 2, 3, 4]);

    const observed = await within(
      new Promise<number[]>((resolve, reject) => {
        const items: number[] = [];
        connection.stream<number>("Counter", 4, 1).subscribe({
          next: (n) => void items.push(n),
          complete: () => resolve(items),
          error: reject,
        });
      }),
      10_000,
      "subscribe",
    );
    assert.deepEqual(observed, [0, 1, 2, 3]);

    const subject = new Subject<string>();
    const fromSubject = connection.invoke<string[]>("UploadCollect", subject);
    for (const item of ["a", "b", "c"]) await subject.next(item);
    await subject.complete();
    assert.deepEqual(await within(fromSubject, 10_000, "Subject upload"), ["a", "b", "c"]);

    const items = ["x", "y"];
    const readable = new ReadableStream<string>({
      pull(controller) {
        const item = items.shift();
        if (item === undefined) controller.close();
        else controller.enqueue(item);
      },
    });
    assert.deepEqual(await connection.invoke("UploadCollect", readable), ["x", "y"]);

    assert.equal(await connection.invoke("AskClient", "Double", 21), 42);

    // On Long Polling the hub aborts the poll in flight and every later poll of the connection
    // token (server/Transports.cs, CutTransport): Bun's fetch resends a GET once after a reset,
    // and that retry must not get through either.
    const firstId = connection.connectionId;
    const reconnected = new Promise<string | undefined>((resolve) =>
      connection.onreconnected(resolve)
    );
    void connection.invoke("DropConnection").catch(() => {});
    const newId = await within(reconnected, 10_000, "reconnect");
    assert.equal(connection.state, HubConnectionState.Connected);
    assert.equal(newId, connection.connectionId);
    assert.notEqual(newId, firstId);
    assert.equal(await connection.invoke("Add", 2, 2), 4);

    await within(connection.stop(), 10_000, "stop");
    assert.equal(connection.state, HubConnectionState.Disconnected);
  } finally {
    await connection.stop();
  }
}

/**
 * The access token on /authhub, which refuses requests without it: in the `Authorization` header
 * of the WebSocket upgrade (the runtime's WebSocket takes headers), of the SSE stream and of every
 * poll and send.
 */
async function runAuth(transport: TransportName): Promise<void> {
  const connection = new HubConnectionBuilder()
    .withUrl(`${baseUrl}/authhub`, {
      transport: TRANSPORT_TYPES[transport],
      accessTokenFactory: () => "secret-token",
    })
    .configureLogging(6)
    .build();
  try {
    await within(connection.start(), 10_000, "start");
    assert.equal(connection.transport, transport);
    assert.equal(await connection.invoke("WhoAmI"), "interop-user");
  } finally {
    await connection.stop();
  }
}

/**
 * A TCP relay to the hub that can cut its WebSocket connections (both sockets destroyed, no close
 * frame): to the client a network failure, as the runtime's own WebSocket reports it.
 */
async function cuttingRelay(target: URL) {
  const webSockets = new Set<Socket>();
  const all = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const [from, to] of [[client, upstream], [upstream, client]]) {
      all.add(from);
      from.on("error", () => to.destroy());
      from.on("close", () => {
        all.delete(from);
        webSockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
    // Every request head until one upgrades: a runtime may send the upgrade on a kept-alive
    // connection that carried plain requests first.
    const watch = (chunk: Uint8Array) => {
      if (/^upgrade: *websocket/im.test(new TextDecoder("latin1").decode(chunk))) {
        webSockets.add(client).add(upstream);
        client.off("data", watch);
      }
    };
    client.on("data", watch);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    /** Cuts the WebSocket connections relayed now; returns how many sockets it destroyed. */
    cut(): number {
      const cut = [...webSockets];
      for (const socket of cut) socket.destroy();
      return cut.length;
    },
    close(): void {
      for (const socket of all) socket.destroy();
      server.close();
    },
  };
}

/**
 * Stateful reconnect, whose code a connection loads (a dynamic import of a .ts source) only when
 * the server agreed to it: start, invoke, the WebSocket cut under it, reattached to the same
 * server connection with nothing lost, stop.
 */
async function runStateful(): Promise<void> {
  const lines: string[] = [];
  const relay = await cuttingRelay(new URL(baseUrl));
  const connection = new HubConnectionBuilder()
    .withUrl(`${relay.url}/hub-stateful`, {
      transport: HttpTransportType.WebSockets,
      logger: { log: (_level, message) => lines.push(message) },
    })
    .withStatefulReconnect()
    .build();
  try {
    await within(connection.start(), 10_000, "start");
    assert.ok(
      !lines.some((line) => line.includes("reconnects the usual way")),
      `stateful reconnect is off: ${lines.join(" | ")}`,
    );
    assert.equal(await connection.invoke("Echo", 7), 7);
    const id = connection.connectionId;
    assert.equal(await connection.invoke("GetConnectionId"), id);

    const suspended: Error[] = [];
    connection.onsuspended((error) => suspended.push(error));
    const resumed = new Promise<void>((resolve) => connection.onresumed(resolve));
    assert.equal(relay.cut(), 2, "one relayed WebSocket connection (two sockets) to cut");
    // Sent while the transport is down: held, then delivered once reattached.
    const echoed = connection.invoke("Echo", 8);
    await within(resumed, 10_000, "reattach");
    assert.equal(await within(echoed, 10_000, "the call made during the cut"), 8);
    assert.equal(suspended.length, 1);
    assert.equal(connection.state, HubConnectionState.Connected);
    assert.equal(connection.connectionId, id);
    assert.equal(await connection.invoke("GetConnectionId"), id, "the same server connection");
  } finally {
    await connection.stop();
    relay.close();
  }
}

/**
 * A raw TCP server for the silent-peer steps: `answer` sees each request head as it grows and
 * may write to the socket. Resolves `ended` when the first connection ends.
 */
async function rawPeer(answer: (head: string, socket: Socket) => void) {
  const ended = Promise.withResolvers<void>();
  const peers = new Set<Socket>();
  const server = createServer((socket) => {
    peers.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => ended.resolve());
    let head = "";
    socket.on("data", (chunk) => {
      if (head.includes("\r\n\r\n")) return;
      head += chunk.toString("latin1");
      answer(head, socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hub`,
    ended: ended.promise,
    close(): void {
      for (const peer of peers) peer.destroy();
      server.close();
    },
  };
}

/**
 * A peer that answers the handshake and then reads and answers nothing, not even the close
 * frame: stop() ends at the close bound, and a socket that can be cut (`terminate()`: the `ws`
 * package's, and Bun's own) is cut then, instead of keeping its TCP connection, and the process,
 * alive (`ws` itself would wait 30 s, Node's and Deno's own WebSocket until the peer goes).
 */
async function runSilentPeer(WebSocket: typeof globalThis.WebSocket): Promise<void> {
  const peer = await rawPeer((head, socket) => {
    const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1];
    if (!head.includes("\r\n\r\n") || !key) return;
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest("base64");
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    // The handshake answer `{}` and its record separator, in one unmasked text frame.
    socket.write(Uint8Array.of(0x81, 3, 0x7b, 0x7d, 0x1e));
  });
  const connection = new HubConnectionBuilder()
    .withUrl(peer.url, {
      transport: HttpTransportType.WebSockets,
      skipNegotiation: true,
      WebSocket,
    })
    .withCloseTimeout(300)
    .configureLogging(6)
    .build();
  try {
    await within(connection.start(), 10_000, "start");
    const started = performance.now();
    await within(connection.stop(), 10_000, "stop");
    assert.ok(performance.now() - started < 5_000, "stop() waited past its bound");
    // The peer sees its TCP connection end: the client let go of it.
    await within(peer.ended, 5_000, "the TCP connection's end");
  } finally {
    peer.close();
  }
}

/**
 * A server that accepts the TCP connection and never answers the WebSocket upgrade, on the
 * runtime's own WebSocket: start() fails at the HTTP timeout, and the attempt's TCP connection
 * is closed (a close() while connecting fails the connection on every runtime).
 */
async function runUnansweredUpgrade(): Promise<void> {
  const peer = await rawPeer(() => {});
  const connection = new HubConnectionBuilder()
    .withUrl(peer.url, {
      transport: HttpTransportType.WebSockets,
      skipNegotiation: true,
      timeout: 300,
    })
    .configureLogging(6)
    .build();
  try {
    const error = await within(connection.start(), 10_000, "start").then(
      () => assert.fail("connected"),
      (e) => e,
    );
    assert.ok(error instanceof DOMException && error.name === "TimeoutError", String(error));
    assert.equal(connection.state, HubConnectionState.Disconnected);
    await within(peer.ended, 5_000, "the TCP connection's end");
  } finally {
    peer.close();
  }
}

const steps: [string, () => Promise<void>][] = VARIANTS.map((variant) => [
  `${variant.transport} · ${variant.protocol}`,
  () => run(variant),
]);
for (const transport of ["WebSockets", "ServerSentEvents", "LongPolling"] as const) {
  steps.push([`the access token on /authhub · ${transport}`, () => runAuth(transport)]);
}
steps.push(["stateful reconnect, a cut survived · WebSockets · json", runStateful]);
steps.push([
  "a silent peer: ws's socket is cut at the close bound",
  () => runSilentPeer(WS as unknown as typeof WebSocket),
]);
if (process.versions.bun !== undefined) {
  // Bun's own WebSocket has terminate() too; Node's does not (its socket is left to the peer).
  steps.push([
    "a silent peer: Bun's own socket is cut at the close bound",
    () => runSilentPeer(globalThis.WebSocket),
  ]);
}
steps.push([
  "a WebSocket upgrade never answered: bounded, the socket closed",
  runUnansweredUpgrade,
]);
for (const [name, step] of steps) {
  const started = performance.now();
  try {
    await step();
    console.log(`ok   ${name} (${Math.round(performance.now() - started)} ms)`);
  } catch (error) {
    fail(name, error);
  }
}
console.log(failures === 0 ? "all passed" : `${failures} failed`);
