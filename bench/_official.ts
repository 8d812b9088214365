// "official": @microsoft/signalr in Deno, as its users run it: `withUrl(url)` with default
// options. In Deno (and Node) it takes the `process` global for Node and loads the `ws` package for
// its WebSocket, which turns Nagle off on its socket; negotiate goes through the native `fetch`,
// wrapped by `fetch-cookie`.
//
// "official-native": the same client forced onto Deno's native WebSocket, the one ours and bare
// use (`{ transport: WebSockets, WebSocket: globalThis.WebSocket }`; the `WebSocket` option exists
// in its IHttpConnectionOptions source but not in its published .d.ts). Same socket for all three,
// but not what a user gets.
//
// Server-Sent Events and Long Polling ("…-sse", "…-lp" scenarios): `withUrl(url, { transport })`
// and nothing else, as its users would. In Deno it takes itself for Node (above), so for
// Server-Sent Events it loads the `eventsource` package (2.0.2, over `node:http`) rather than
// Deno's global EventSource, and sends (POSTs) and polls (GETs) through the native `fetch` wrapped
// by `fetch-cookie` (its cookie jar, whose cookies it also gives the EventSource).
//
// The replayed-stream scenarios have no server: their stand-in WebSocket is the global one, so
// there "official" is given `WebSocket: globalThis.WebSocket` too (nothing else changes), and the
// native run would be the same measurement.
//
// Stateful reconnect ("…-stateful" scenarios): `.withStatefulReconnect({ bufferSize })`, the same
// size as ours (`SIZES.statefulBuffer`), otherwise the same options.
//
// MessagePack ("…-mp…" scenarios): `.withHubProtocol(new MessagePackHubProtocol())` from
// `@microsoft/signalr-protocol-msgpack` 10.0.11 (on `@msgpack/msgpack` 2.8.0), otherwise the same
// options as for JSON; loaded only by the children that speak it.
//
// The imports below take their specifier from a variable so that `deno check` of the bench does
// not need the package; the few types used are declared here.
import { type BenchClient, type BenchConnection, SIZES } from "./_scenarios.ts";
import { countMessagesOf, expectStateful } from "./_frames.ts";
import { replaying } from "./_replay.ts";
import process from "node:process";

/** The official client's version that is measured. */
export const OFFICIAL_SPECIFIER = "npm:@microsoft/signalr@10.0.11";
/** Its MessagePack hub protocol, the same version. */
export const OFFICIAL_MSGPACK_SPECIFIER = "npm:@microsoft/signalr-protocol-msgpack@10.0.11";

interface OfficialStreamResult<T> {
  subscribe(subscriber: {
    next(value: T): void;
    error(err: unknown): void;
    complete(): void;
  }): { dispose(): void };
}

interface OfficialSubject<T> {
  next(item: T): void;
  error(err: unknown): void;
  complete(): void;
}

interface OfficialConnection extends BenchConnection {
  start(): Promise<void>;
  invoke<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  stream<T = unknown>(method: string, ...args: unknown[]): OfficialStreamResult<T>;
}

interface OfficialBuilder {
  withUrl(url: string, options?: Record<string, unknown>): OfficialBuilder;
  withHubProtocol(protocol: unknown): OfficialBuilder;
  withStatefulReconnect(options?: { bufferSize?: number }): OfficialBuilder;
  configureLogging(level: number): OfficialBuilder;
  build(): OfficialConnection;
}

interface OfficialModule {
  HubConnectionBuilder: new () => OfficialBuilder;
  HttpTransportType: { WebSockets: number; ServerSentEvents: number; LongPolling: number };
  LogLevel: { Warning: number };
  Subject: new <T>() => OfficialSubject<T>;
}

// On Node (bench/node_child.ts) `npm:` specifiers do not resolve: the child names the package's
// entry point, installed in a bench-only folder, in BENCH_OFFICIAL_MODULE (and of its MessagePack
// protocol in BENCH_OFFICIAL_MSGPACK_MODULE).
const specifier: string = process.env.BENCH_OFFICIAL_MODULE ?? OFFICIAL_SPECIFIER;
const signalR = await import(specifier) as OfficialModule;

/** A new `MessagePackHubProtocol()` of `@microsoft/signalr-protocol-msgpack`, default options. */
async function messagePack(): Promise<unknown> {
  const msgpackSpecifier: string = process.env.BENCH_OFFICIAL_MSGPACK_MODULE ??
    OFFICIAL_MSGPACK_SPECIFIER;
  const module = await import(msgpackSpecifier) as {
    MessagePackHubProtocol: new () => unknown;
  };
  return new module.MessagePackHubProtocol();
}

/**
 * The client's socket, when it is not the global WebSocket (whose messages bench/_frames.ts
 * counts already): the `ws` package's, reached through the client's internals
 * (HubConnection.connection.transport._webSocket in 10.0.11).
 */
function wsSocketOf(connection: OfficialConnection): unknown {
  const internals = connection as unknown as {
    connection?: { transport?: { _webSocket?: unknown } };
  };
  const socket = internals.connection?.transport?._webSocket;
  return socket && !(socket instanceof WebSocket) ? socket : undefined;
}

/** The transport the client's connection uses (its class name in 10.0.11). */
function transportName(connection: OfficialConnection): string | undefined {
  const internals = connection as unknown as { connection?: { transport?: object } };
  return internals.connection?.transport?.constructor.name.replace(/Transport$/, "");
}

function client(options: Record<string, unknown> | undefined): BenchClient<OfficialConnection> {
  return {
    async connect(hubUrl, transport, protocol, connectOptions) {
      const builder = new signalR.HubConnectionBuilder();
      const configured = (
        transport !== "WebSockets"
          ? builder.withUrl(hubUrl, { transport: signalR.HttpTransportType[transport] })
          : options
          ? builder.withUrl(hubUrl, options)
          : builder.withUrl(hubUrl)
      )
        .configureLogging(signalR.LogLevel.Warning);
      if (protocol === "messagepack") configured.withHubProtocol(await messagePack());
      if (connectOptions?.stateful) {
        configured.withStatefulReconnect({ bufferSize: SIZES.statefulBuffer });
      }
      const connection = configured.build();
      await connection.start();
      if (connectOptions?.stateful) expectStateful();
      const name = transportName(connection);
      if (name !== transport && !(transport === "WebSockets" && name === "WebSocket")) {
        await connection.stop();
        throw new Error(`connected over ${name}, not ${transport}`);
      }
      const socket = wsSocketOf(connection);
      if (socket) countMessagesOf(socket as Parameters<typeof countMessagesOf>[0]);
      return connection;
    },

    stream(connection, count) {
      return new Promise((resolve, reject) => {
        let n = 0;
        connection.stream<number>("Counter", count, 0).subscribe({
          next: () => {
            n++;
          },
          complete: () => resolve(n),
          error: reject,
        });
      });
    },

    async upload(connection, count) {
      const subject = new signalR.Subject<string>();
      const answer = connection.invoke<number>("UploadCount", subject);
      for (let i = 0; i < count; i++) subject.next(String(i));
      subject.complete();
      return await answer;
    },

    invoke(connection, method, ...args) {
      return connection.invoke(method, ...args);
    },
  };
}

/** @microsoft/signalr 10.0.11 with default options (in Deno: the `ws` package's WebSocket). */
export const official: BenchClient<OfficialConnection> = client(
  replaying() ? { WebSocket: globalThis.WebSocket } : undefined,
);

/** @microsoft/signalr 10.0.11 forced onto Deno's native WebSocket. */
export const officialNative: BenchClient<OfficialConnection> = client({
  transport: signalR.HttpTransportType.WebSockets,
  WebSocket: globalThis.WebSocket,
});
