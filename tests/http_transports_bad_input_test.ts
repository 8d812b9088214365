// Bad input on the HTTP transports, from a bare server on Deno.serve: a malformed event stream,
// an event over the size limit, a stream that ends mid-record. Typed errors, a reconnect where
// the end allows one, nothing lost and nothing hanging.
import "./_guard.ts";
import assert from "node:assert/strict";
import {
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  LogLevel,
  ProtocolError,
  TransportClosedError,
} from "../mod.ts";

const RS = "\x1e";

/**
 * A hub that offers only Server-Sent Events; each stream answers the handshake and then writes
 * what `script(n)` gives for the n-th stream (0-based), then ends (or stays open with `hold`).
 */
function sseHub(script: (n: number) => { chunks: string[]; hold?: boolean }) {
  let streams = 0;
  const open = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/negotiate")) {
      return Response.json({
        negotiateVersion: 1,
        connectionId: `c${streams}`,
        connectionToken: `t${streams}`,
        availableTransports: [{ transport: "ServerSentEvents", transferFormats: ["Text"] }],
      });
    }
    if (request.method === "POST") return request.text().then(() => new Response(""));
    const { chunks, hold } = script(streams++);
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(`data: {}${RS}\r\n\r\n`));
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
        if (hold) open.add(controller);
        else controller.close();
      },
    });
    return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hub`,
    streams: () => streams,
    async [Symbol.asyncDispose]() {
      for (const controller of open) controller.close();
      await server.shutdown();
    },
  };
}

function build(url: string, configure = (b: HubConnectionBuilder) => b): HubConnection {
  return configure(
    new HubConnectionBuilder().withUrl(url, { transport: HttpTransportType.ServerSentEvents })
      .configureLogging(LogLevel.None),
  ).build();
}

function nextClose(connection: HubConnection): Promise<Error | undefined> {
  return new Promise((resolve) => connection.onclose(resolve));
}

Deno.test("SSE: a malformed record closes with a ProtocolError, no reconnect", async () => {
  await using hub = sseHub(() => ({
    chunks: [`data: {"type":1,"target":${RS}\r\n\r\n`],
    hold: true,
  }));
  const connection = build(hub.url, (b) => b.withAutomaticReconnect([0]));
  const closed = nextClose(connection);
  await connection.start();
  const error = await closed;
  assert.ok(error instanceof ProtocolError, String(error));
  assert.equal(hub.streams(), 1, "a protocol error is not retried");
});

Deno.test("SSE: an event over the size limit closes with a ProtocolError", async () => {
  const big = "x".repeat(5_000);
  await using hub = sseHub(() => ({
    chunks: [`data: ${big}\r\n`, `data: ${big}\r\n\r\n`],
    hold: true,
  }));
  const connection = new HubConnectionBuilder()
    .withUrl(hub.url, {
      transport: HttpTransportType.ServerSentEvents,
      maxReceiveMessageSize: 8_000,
    })
    .configureLogging(LogLevel.None).build();
  const closed = nextClose(connection);
  await connection.start();
  const error = await closed;
  assert.ok(error instanceof ProtocolError, String(error));
  assert.match(error.message, /8000|limit/);
});

Deno.test("SSE: a stream that ends mid-record delivers what was whole, then reconnects", async () => {
  await using hub = sseHub((n) =>
    n === 0
      ? { chunks: [`data: {"type":1,"target":"Note","arguments":[1]}${RS}{"type":1,"tar\r\n\r\n`] }
      : { chunks: [`data: {"type":1,"target":"Note","arguments":[2]}${RS}\r\n\r\n`], hold: true }
  );
  const connection = build(hub.url, (b) => b.withAutomaticReconnect([0]));
  const notes: number[] = [];
  const second = Promise.withResolvers<void>();
  connection.on("Note", (n: number) => {
    notes.push(n);
    if (n === 2) second.resolve();
  });
  const reasons: (Error | undefined)[] = [];
  connection.onreconnecting((error) => reasons.push(error));
  await connection.start();
  await second.promise;
  assert.deepEqual(notes, [1, 2]);
  assert.ok(reasons[0] instanceof TransportClosedError, String(reasons[0]));
  assert.equal(connection.transport, "ServerSentEvents");
  await connection.stop();
});
