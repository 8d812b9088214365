// The HTTP transports' own behaviour, over a fake fetch that the test answers request by
// request: Long Polling's poll loop and close, and the POST sender they share.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { HttpError, TransportClosedError } from "../../mod.ts";
import { HttpClient } from "../../src/http/_http_client.ts";
import { longPollingTransport } from "../../src/transport/_long_polling.ts";
import type { Transport, TransportConnectOptions } from "../../src/transport/transport.ts";

interface Pending {
  readonly method: string;
  readonly url: string;
  readonly body: string | undefined;
  readonly signal: AbortSignal | undefined;
  respond(response: Response): void;
}

/** A fetch whose requests wait until the test answers them, in arrival order. */
function fakeServer() {
  const queue: Pending[] = [];
  let wake: (() => void) | undefined;
  const fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const { promise, resolve, reject } = Promise.withResolvers<Response>();
    const signal = init?.signal ?? undefined;
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    queue.push({
      method: init?.method ?? "GET",
      url: String(input),
      body: init?.body as string | undefined,
      signal,
      respond: resolve,
    });
    wake?.();
    return promise;
  }) as typeof globalThis.fetch;
  async function next(method?: string): Promise<Pending> {
    for (;;) {
      const index = queue.findIndex((r) => method === undefined || r.method === method);
      if (index !== -1) return queue.splice(index, 1)[0];
      await new Promise<void>((resolve) => wake = resolve);
    }
  }
  return { fetch, next, queue };
}

function options(fetch: typeof globalThis.fetch) {
  const frames: (string | Uint8Array)[] = [];
  const closes: (Error | undefined)[] = [];
  const closed = Promise.withResolvers<Error | undefined>();
  const opts: TransportConnectOptions = {
    url: "http://h/hub?id=tok",
    transferFormat: "Text",
    headers: {},
    accessToken: undefined,
    receiver: {
      onFrame: (frame) => frames.push(frame),
      onClose: (error) => {
        closes.push(error);
        closed.resolve(error);
      },
    },
    http: new HttpClient({ fetch, timeout: 1_000 }),
    signal: undefined,
    logger: { log() {} },
  };
  return { opts, frames, closes, closed: closed.promise };
}

async function connected(server: ReturnType<typeof fakeServer>, opts: TransportConnectOptions) {
  const connecting = longPollingTransport({ pollTimeout: 5_000 }).connect(opts);
  (await server.next("GET")).respond(new Response(null, { status: 200 }));
  return await connecting;
}

test("Long Polling: the first poll must be a 200; a 204 or an error status fails connect", async () => {
  for (const [status, error] of [[204, TransportClosedError], [503, HttpError]] as const) {
    const server = fakeServer();
    const connecting = longPollingTransport({ pollTimeout: 5_000 }).connect(
      options(server.fetch).opts,
    );
    (await server.next()).respond(new Response(status === 204 ? null : "down", { status }));
    await assert.rejects(connecting, error);
  }
});

test("Long Polling: polls with a fresh _=, delivers bodies, polls again on empty, 204 ends", async () => {
  const server = fakeServer();
  const { opts, frames, closed } = options(server.fetch);
  await connected(server, opts);
  const urls: string[] = [];
  let poll = await server.next("GET");
  urls.push(poll.url);
  poll.respond(new Response('{"type":6}\x1e', { status: 200 }));
  poll = await server.next("GET");
  urls.push(poll.url);
  poll.respond(new Response("", { status: 200 }));
  poll = await server.next("GET");
  urls.push(poll.url);
  poll.respond(new Response(null, { status: 204 }));
  const error = await closed;
  assert.deepEqual(frames, ['{"type":6}\x1e']);
  assert.ok(error instanceof TransportClosedError, String(error));
  for (const url of urls) assert.match(url, /^http:\/\/h\/hub\?id=tok&_=\d+$/);
});

test("Long Polling: a poll answered 500 with HTML ends the transport with an HttpError", async () => {
  const server = fakeServer();
  const { opts, closed } = options(server.fetch);
  await connected(server, opts);
  (await server.next("GET")).respond(new Response("<html>oops</html>", { status: 500 }));
  const error = await closed;
  assert.ok(error instanceof HttpError && error.status === 500, String(error));
});

test("Long Polling: close() sends what is queued, aborts the poll, then DELETE", async () => {
  const server = fakeServer();
  const { opts, closes } = options(server.fetch);
  const transport: Transport = await connected(server, opts);
  const poll = await server.next("GET");
  transport.send(["a\x1e"], 2);
  const post = await server.next("POST");
  assert.equal(post.body, "a\x1e");
  const closing = transport.close(1_000);
  post.respond(new Response("", { status: 200 }));
  const deleted = await server.next("DELETE");
  assert.equal(deleted.url, "http://h/hub?id=tok");
  assert.equal(poll.signal?.aborted, true, "the poll was aborted before DELETE");
  deleted.respond(new Response("", { status: 202 }));
  await closing;
  assert.deepEqual(closes, [undefined]);
});

test("sends: one POST in flight; what is queued meanwhile goes in the next, as one body", async () => {
  const server = fakeServer();
  const { opts } = options(server.fetch);
  const transport = await connected(server, opts);
  const poll = await server.next("GET");
  transport.send(["1\x1e"], 2);
  const first = await server.next("POST");
  transport.send(["2\x1e", "3\x1e"], 4);
  transport.send(["4\x1e"], 2);
  assert.equal(server.queue.filter((r) => r.method === "POST").length, 0, "one in flight");
  first.respond(new Response("", { status: 200 }));
  const second = await server.next("POST");
  assert.equal(first.body, "1\x1e");
  assert.equal(second.body, "2\x1e3\x1e4\x1e");
  second.respond(new Response("", { status: 200 }));
  const closing = transport.close(1_000);
  poll.respond(new Response("", { status: 200 }));
  (await server.next("DELETE")).respond(new Response("", { status: 202 }));
  await closing;
});

test("sends: after a 404, the server's own end still on its way in the poll comes first", async () => {
  // The server closed the connection with a Close message while a send was in flight: the send
  // gets 404, and the Close (which may forbid reconnecting) arrives in the pending poll.
  const server = fakeServer();
  const { opts, frames, closed } = options(server.fetch);
  const transport = await connected(server, opts);
  const poll = await server.next("GET");
  transport.send(["1\x1e"], 2);
  (await server.next("POST")).respond(new Response("", { status: 404 }));
  const close = '{"type":7,"error":"Server going away"}\x1e';
  poll.respond(new Response(close, { status: 200 }));
  (await server.next("GET")).respond(new Response(null, { status: 204 }));
  const error = await closed;
  assert.deepEqual(frames, [close], "the Close message before the end");
  assert.ok(!/404/.test(String(error)), String(error));
});

test("sends: a POST answered 404 ends the transport, a moment later: the connection is gone", async () => {
  const server = fakeServer();
  const { opts, closed } = options(server.fetch);
  const transport = await connected(server, opts);
  const poll = await server.next("GET");
  transport.send(["1\x1e"], 2);
  (await server.next("POST")).respond(new Response("", { status: 404 }));
  const error = await closed;
  assert.ok(error instanceof TransportClosedError && /404/.test(error.message), String(error));
  assert.equal(poll.signal?.aborted, true);
  await assert.rejects(Promise.resolve(transport.send(["2\x1e"], 2)), TransportClosedError);
});
