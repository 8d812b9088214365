/**
 * `TestHub`: a real SignalR hub server inside the test process (Deno, Bun or Node), for tests and
 * demos.
 *
 * @module
 */
import { positive } from "../_positive.ts";
import type { HubProtocol } from "../protocol/hub_protocol.ts";
import { authorized, requestToken, type TokenCheck, unauthorized } from "./_auth.ts";
import { Groups } from "./_groups.ts";
import { emptyResponse, HttpTransport, readBody } from "./_http_transport.ts";
import { isStreamMethod } from "./_invocations.ts";
import { type LongPollingSettings, LongPollingTransport } from "./_long_polling_transport.ts";
import {
  asksForStatefulReconnect,
  faultResponse,
  json,
  negotiateAnswer,
  type Negotiated,
  randomId,
  text,
  TRANSPORTS,
} from "./_negotiate.ts";
import { Protocols } from "./_protocols.ts";
import {
  type ConnectionHost,
  type ConnectionSettings,
  ServerConnection,
} from "./_server_connection.ts";
import type { ServerTransport } from "./_server_transport.ts";
import { SseTransport } from "./_sse_transport.ts";
import { type HubServer, listen } from "./_server_adapter.ts";
import { WebSocketTransport } from "./_websocket_transport.ts";
import type { TestHubFaults } from "./faults.ts";
import type { HubMethod, HubMethodDefinition, HubMethodOptions } from "./hub_method.ts";
import type {
  TestHubClient,
  TestHubGroup,
  TestHubRequest,
  TestHubTransport,
} from "./test_hub_client.ts";

// How long TestHub.close() waits for clients to finish closing (answer the WebSocket close,
// poll once more), and then for hub methods to finish, before it cuts the connections and
// stops waiting.
const CLOSE_GRACE_MS = 2_000;
// How long TestHub.close() lets the relay pass on the server's last answers.
const RELAY_DRAIN_MS = 500;

/** A connection whose transport has connected, by its connection token. */
interface Live {
  readonly connection: ServerConnection;
  readonly transport: ServerTransport;
}

/**
 * Options of {@linkcode TestHub.serve}.
 *
 * @example
 * ```ts
 * import { TestHub, type TestHubOptions } from "@signalrcore/client/testing";
 * const options: TestHubOptions = {
 *   methods: { Echo: (x: unknown) => x },
 *   keepAliveInterval: 1_000,
 *   detailedErrors: true,
 * };
 * await using hub = await TestHub.serve(options);
 * ```
 */
export interface TestHubOptions {
  /**
   * The hub methods by name (matched case-insensitively, like ASP.NET Core): functions, or
   * {@linkcode HubMethodDefinition}s made with {@linkcode TestHub.method}.
   */
  methods?: Readonly<Record<string, HubMethod | HubMethodDefinition>>;
  /** The hub's path. Default `"/hub"`. */
  path?: string;
  /**
   * Hub protocols the hub speaks besides JSON, which it always speaks: e.g.
   * `new MessagePackHubProtocol()` from `@signalrcore/client/msgpack` (this entry point imports
   * no MessagePack code itself, so JSON users never download it). Each client picks one by
   * name in its handshake (case-insensitively, as on ASP.NET Core), up to ASP.NET Core's version
   * of it (2 for `json` and `messagepack`); the hub then decodes what it sends with that
   * protocol's decoder and encodes everything for it with that protocol. A binary protocol
   * goes in binary WebSocket frames and `application/octet-stream` polls; on Server-Sent
   * Events, which carry text only, its handshake is refused as ASP.NET Core refuses it. A
   * protocol named `json` here replaces the built-in one. Default: none.
   *
   * @example A hub for MessagePack clients (and JSON ones)
   * ```ts
   * import { HubConnectionBuilder } from "@signalrcore/client";
   * import { MessagePackHubProtocol } from "@signalrcore/client/msgpack";
   * import { TestHub } from "@signalrcore/client/testing";
   *
   * await using hub = await TestHub.serve({
   *   protocols: [new MessagePackHubProtocol()],
   *   methods: { Echo: (x: unknown) => x },
   * });
   * await using connection = new HubConnectionBuilder()
   *   .withUrl(hub.url)
   *   .withHubProtocol(new MessagePackHubProtocol())
   *   .build();
   * await connection.start();
   * console.log(await connection.invoke("Echo", new Uint8Array([1, 2]))); // Uint8Array(2) [ 1, 2 ]
   * console.log((await hub.nextConnection()).protocol); // "messagepack"
   * ```
   */
  protocols?: readonly HubProtocol[];
  /**
   * The transports offered, listed by negotiate in ASP.NET Core's order whatever the order
   * here: WebSockets (Text, Binary), ServerSentEvents (Text), LongPolling (Text, Binary). The
   * others are refused with 404, as ASP.NET Core refuses a transport it does not offer. A hub
   * without WebSockets is how a test sees a client fall back. Default: all three.
   */
  transports?: readonly TestHubTransport[];
  /** How long a Long Polling poll waits for data before an empty 200, in ms. Default 90 000. */
  longPollTimeout?: number;
  /**
   * Close a Long Polling connection when no poll has been waiting for this long, end a stateful
   * reconnect connection whose WebSocket dropped when the client has not reattached within it,
   * and forget a negotiated connection token not used within it, in ms (ASP.NET Core's
   * `DisconnectTimeout`). Default 15 000.
   */
  disconnectTimeout?: number;
  /**
   * Allow stateful reconnect (ASP.NET Core's `AllowStatefulReconnects`), with the buffer limit
   * in bytes (`StatefulReconnectBufferSize`, default 100 000). Negotiate then answers
   * `"useStatefulReconnect": true` to a client that asks with `useStatefulReconnect=true`, and
   * on WebSockets a handshake of version 2 or more turns it on for the connection, as on
   * ASP.NET Core:
   *
   * - Invocation, StreamItem, Completion, StreamInvocation and CancelInvocation are numbered
   *   from 1 each way. The hub keeps what it sent until the client acks it; when the unacked
   *   bytes are past the limit, its sends wait for acks (`hub.send`, `client.send`, streams).
   * - Every second the hub sends `Ack` with the newest id it received, if anything new arrived
   *   since its last Ack (not again after a reattach, as ASP.NET Core); a message it already
   *   processed, replayed by the client, is dropped (it is not in `received` twice).
   * - When the WebSocket drops without a close frame (a network failure,
   *   {@linkcode TestHubClient.dropTransport}), the connection does not end: the client may
   *   reattach with a new WebSocket to the same `id=` (no negotiate, no handshake) within
   *   `disconnectTimeout`; the hub then sends `Sequence` with its oldest unacked id and replays
   *   from there. A client Sequence ahead of what the hub received closes the connection with
   *   an error. After the timeout, the connection ends and its token gets 404.
   *
   * Default `false`.
   *
   * @example A connection that survives a dropped WebSocket
   * ```ts
   * import { HubConnectionBuilder, HttpTransportType } from "@signalrcore/client";
   * import { TestHub } from "@signalrcore/client/testing";
   *
   * await using hub = await TestHub.serve({
   *   statefulReconnect: { bufferSize: 50_000 },
   *   methods: { Echo: (x: unknown) => x },
   * });
   * await using connection = new HubConnectionBuilder()
   *   .withUrl(hub.url, { transport: HttpTransportType.WebSockets })
   *   .withStatefulReconnect()
   *   .build();
   * await connection.start();
   * const client = await hub.nextConnection();
   * await client.dropTransport(); // a network drop: the client reattaches
   * await client.waitForReattach();
   * console.log(client.id === connection.connectionId, client.reattaches); // true 1
   * ```
   */
  statefulReconnect?: boolean | { readonly bufferSize?: number };
  /**
   * Headers added to every normal negotiate answer, e.g. `{ "set-cookie": "affinity=1" }` to see
   * that a client sends the cookie back on every later request
   * ({@linkcode TestHubClient.requests}).
   */
  negotiateHeaders?: HeadersInit | ((request: Request) => HeadersInit | undefined);
  /**
   * Send a ping when nothing was sent for this long, in ms (not on Long Polling, as on
   * ASP.NET Core). Default 15 000.
   */
  keepAliveInterval?: number;
  /**
   * Close a connection when nothing arrived from it for this long, in ms; as on ASP.NET Core,
   * the timeout starts with the client's first ping, and Long Polling has
   * `disconnectTimeout` instead. Default 30 000.
   */
  clientTimeout?: number;
  /** Refuse a handshake that does not arrive within this many ms. Default 15 000. */
  handshakeTimeout?: number;
  /** Default timeout of `invokeClient`, in ms (0: none). Default 30 000. */
  invokeClientTimeout?: number;
  /**
   * Add the error's name and message to the generic error texts, like ASP.NET Core's
   * `EnableDetailedErrors`. Default `false`.
   */
  detailedErrors?: boolean;
  /**
   * The largest message accepted from a client: UTF-16 code units for JSON, bytes for a binary
   * protocol. Default 32 768.
   */
  maxMessageSize?: number;
  /**
   * Require a bearer token on negotiate and on every request of a connection (401 without
   * it), as `Authorization: Bearer <token>` or `access_token=<token>`: the one valid token, or
   * a check.
   */
  accessToken?: string | ((token: string) => boolean | Promise<boolean>);
  /** Initial fault knobs; see {@linkcode TestHub.faults}. */
  faults?: TestHubFaults;
}

/**
 * The options form of {@linkcode TestHub.invokeClient}.
 *
 * @example
 * ```ts ignore
 * const answer = await hub.invokeClient({
 *   connectionId: client.id,
 *   method: "Confirm",
 *   args: ["Delete?"],
 *   timeout: 1_000,
 * });
 * ```
 */
export interface InvokeClientOptions {
  /** The connection to call. */
  connectionId: string;
  /** The client method. */
  method: string;
  /** Its arguments. */
  args?: readonly unknown[];
  /** Reject after this many ms (0: never). Default: the hub's `invokeClientTimeout`. */
  timeout?: number;
  /** Reject with its reason when aborted. */
  signal?: AbortSignal;
}

/**
 * Options of {@linkcode TestHub.nextConnection}.
 *
 * @example
 * ```ts ignore
 * const client = await hub.nextConnection({ signal: AbortSignal.timeout(5_000) });
 * ```
 */
export interface NextConnectionOptions {
  /** Stop waiting, rejecting with its reason. */
  signal?: AbortSignal;
}

interface ArrivalWaiter {
  resolve(connection: TestHubClient): void;
  reject(error: unknown): void;
}

/**
 * A real SignalR server in this process (127.0.0.1, a free port; `Deno.serve` on Deno, `Bun.serve` on
 * Bun, `node:http` with the `ws` package on Node): negotiate (versions 0 and 1),
 * the WebSockets, Server-Sent Events and Long Polling transports, the JSON hub protocol (and
 * MessagePack, or any other given in {@linkcode TestHubOptions.protocols}) with handshake,
 * keep-alive pings, client timeout and Close, invocations, server streams with cancellation,
 * client-to-server streams, client results, groups, and fault injection for tests, the same on
 * every transport. It speaks the protocol as `@microsoft/signalr` expects,
 * and uses ASP.NET Core's error texts and HTTP answers.
 *
 * Invocations of one connection run concurrently (ASP.NET Core runs one at a time per client by
 * default), so a method may call `context.client.invoke(...)` and wait for the answer.
 *
 * @example A hub with a method, a stream and an upload
 * ```ts
 * import { HubConnectionBuilder } from "@signalrcore/client";
 * import { TestHub } from "@signalrcore/client/testing";
 *
 * await using hub = await TestHub.serve({
 *   methods: {
 *     Echo: (x: unknown) => x,
 *     Counter: async function* (count: number) {
 *       for (let i = 0; i < count; i++) yield i;
 *     },
 *     Sum: async (items: AsyncIterable<number>) => {
 *       let sum = 0;
 *       for await (const item of items) sum += item;
 *       return sum;
 *     },
 *   },
 * });
 * await using connection = new HubConnectionBuilder().withUrl(hub.url).build();
 * await connection.start();
 * console.log(await connection.invoke("Echo", "hi")); // "hi"
 * for await (const n of connection.stream<number>("Counter", 3)) console.log(n); // 0 1 2
 * ```
 */
export class TestHub implements AsyncDisposable {
  /**
   * The fault knobs, applied to whatever happens next: change them at any time.
   *
   * @example Stop pinging so that the client's server timeout fires
   * ```ts ignore
   * hub.faults.pings = false;
   * ```
   */
  readonly faults: TestHubFaults;

  readonly #path: string;
  readonly #methods = new Map<string, HubMethodDefinition>();
  readonly #settings: ConnectionSettings;
  readonly #tokenCheck: TokenCheck | undefined;
  readonly #transports: ReadonlySet<TestHubTransport>;
  readonly #longPolling: LongPollingSettings;
  readonly #negotiateHeaders: TestHubOptions["negotiateHeaders"];
  readonly #negotiated = new Map<string, Negotiated>();
  readonly #live = new Map<string, Live>();
  readonly #open = new Map<string, ServerConnection>();
  readonly #all = new Set<ServerConnection>();
  readonly #groups: Groups<ServerConnection>;
  readonly #host: ConnectionHost;
  #arrivals: ServerConnection[] = [];
  #arrivalWaiters: ArrivalWaiter[] = [];
  #invocationId = 0;
  #server: HubServer | undefined;
  #closing: Promise<void> | undefined;

  private constructor(options: TestHubOptions) {
    this.#path = normalizePath(options.path ?? "/hub");
    for (const [name, method] of Object.entries(options.methods ?? {})) {
      const key = name.toLowerCase();
      if (this.#methods.has(key)) {
        throw new TypeError(`Duplicate hub method '${name}' (names are case-insensitive).`);
      }
      this.#methods.set(key, toDefinition(name, method));
    }
    this.#settings = {
      keepAliveInterval: positive(options.keepAliveInterval ?? 15_000, "keepAliveInterval"),
      clientTimeout: positive(options.clientTimeout ?? 30_000, "clientTimeout"),
      handshakeTimeout: positive(options.handshakeTimeout ?? 15_000, "handshakeTimeout"),
      invokeClientTimeout: options.invokeClientTimeout ?? 30_000,
      detailedErrors: options.detailedErrors ?? false,
      maxMessageSize: positive(options.maxMessageSize ?? 32 * 1024, "maxMessageSize"),
      disconnectTimeout: positive(options.disconnectTimeout ?? 15_000, "disconnectTimeout"),
      statefulBufferSize: statefulBufferSize(options.statefulReconnect),
      protocols: new Protocols(options.protocols),
    };
    this.#tokenCheck = options.accessToken;
    const transports = options.transports ?? TRANSPORTS;
    for (const name of transports) {
      if (!TRANSPORTS.includes(name)) {
        throw new TypeError(
          `Unknown transport '${name}'; expected one of ${TRANSPORTS.join(", ")}.`,
        );
      }
    }
    this.#transports = new Set(transports);
    this.#longPolling = {
      pollTimeout: positive(options.longPollTimeout ?? 90_000, "longPollTimeout"),
      disconnectTimeout: positive(options.disconnectTimeout ?? 15_000, "disconnectTimeout"),
    };
    this.#negotiateHeaders = options.negotiateHeaders;
    this.faults = { ...options.faults };
    this.#groups = new Groups((id) => this.#connection(id));
    this.#host = {
      hub: this,
      settings: this.#settings,
      pingsEnabled: () => this.faults.pings !== false,
      method: (target) => this.#methods.get(target.toLowerCase()),
      nextInvocationId: () => String(this.#invocationId++),
      connected: (connection) => this.#connected(connection),
      disconnected: (connection) => this.#disconnected(connection),
      join: (connection, group) => this.#groups.add(connection, group),
      leave: (connection, group) => this.#groups.remove(connection, group),
      groupsOf: (connection) => this.#groups.of(connection),
    };
  }

  /**
   * Starts a hub on 127.0.0.1 on a free port.
   *
   * @param options The methods, timers, authentication and faults.
   * @returns The running hub; `await using` closes it.
   */
  static async serve(options: TestHubOptions = {}): Promise<TestHub> {
    const hub = new TestHub(options);
    await hub.#listen();
    return hub;
  }

  /**
   * Declares a hub method with options: which parameters take upload streams, or that it is a
   * server stream although it is not a generator function.
   *
   * @param options Stream positions and kind.
   * @param handler The method.
   * @returns The definition, to put in `methods`.
   *
   * @example Two uploads around a plain argument
   * ```ts
   * import { TestHub } from "@signalrcore/client/testing";
   *
   * await using hub = await TestHub.serve({
   *   methods: {
   *     Merge: TestHub.method(
   *       { streams: [0, 2] },
   *       async (a: AsyncIterable<number>, separator: string, b: AsyncIterable<number>) => {
   *         const out: number[] = [];
   *         for await (const x of a) out.push(x);
   *         for await (const x of b) out.push(x);
   *         return out.join(separator);
   *       },
   *     ),
   *   },
   * });
   * ```
   */
  static method(options: HubMethodOptions, handler: HubMethod): HubMethodDefinition {
    return { ...options, handler };
  }

  /** The hub URL for clients, e.g. `http://127.0.0.1:41234/hub`. */
  get url(): string {
    return `http://127.0.0.1:${this.#server?.port}${this.#path}`;
  }

  /** The ids of the connections that completed the handshake and are still open. */
  get connections(): readonly string[] {
    return [...this.#open.keys()];
  }

  /**
   * Waits for a connection to complete its handshake. Connections queue up: the n-th call
   * returns the n-th connection, even when it arrived before the call, so tests never sleep.
   *
   * @param options An abort signal.
   * @returns The connection's handle.
   *
   * @example
   * ```ts ignore
   * const [client] = await Promise.all([hub.nextConnection(), connection.start()]);
   * ```
   */
  nextConnection(options: NextConnectionOptions = {}): Promise<TestHubClient> {
    const arrived = this.#arrivals.shift();
    if (arrived) return Promise.resolve(arrived);
    if (this.#closing) return Promise.reject(new Error("The TestHub is closed."));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<TestHubClient>();
    const onAbort = () => {
      this.#arrivalWaiters = this.#arrivalWaiters.filter((w) => w !== waiter);
      reject(signal!.reason);
    };
    const waiter: ArrivalWaiter = {
      resolve: (connection) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(connection);
      },
      reject: (error) => {
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      },
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#arrivalWaiters.push(waiter);
    return promise;
  }

  /**
   * The handle of an open connection.
   *
   * @param connectionId The connection id.
   * @returns Its handle.
   * @throws {RangeError} When no open connection has that id.
   */
  client(connectionId: string): TestHubClient {
    return this.#connection(connectionId);
  }

  /**
   * The handle of a group (groups exist while they have members).
   *
   * @param name The group name.
   * @returns Its handle.
   */
  group(name: string): TestHubGroup {
    return this.#groups.handle(name);
  }

  /**
   * Calls a client method on every open connection.
   *
   * @param method The client method.
   * @param args Its arguments.
   * @returns Resolves when written to every connection.
   */
  async send(method: string, ...args: unknown[]): Promise<void> {
    await Promise.all([...this.#open.values()].map((c) => c.send(method, ...args)));
  }

  /**
   * Calls a client method on one connection and waits for its result (client results).
   *
   * @param connectionId The connection.
   * @param method The client method.
   * @param args Its arguments.
   * @returns The client's result. Rejects with a `TestHubError` carrying the client's error
   * text, with a `TimeoutError` after `invokeClientTimeout`, or when the connection ends.
   */
  invokeClient<T = unknown>(connectionId: string, method: string, ...args: unknown[]): Promise<T>;
  /**
   * The options form, with a timeout and an abort signal.
   *
   * @param options The connection, method, arguments, timeout and signal.
   * @returns The client's result.
   */
  invokeClient<T = unknown>(options: InvokeClientOptions): Promise<T>;
  invokeClient<T = unknown>(
    target: string | InvokeClientOptions,
    method?: string,
    ...args: unknown[]
  ): Promise<T> {
    const call: InvokeClientOptions = typeof target === "string"
      ? { connectionId: target, method: method!, args }
      : target;
    let connection: ServerConnection;
    try {
      connection = this.#connection(call.connectionId);
    } catch (error) {
      return Promise.reject(error);
    }
    return connection.invokeWith(
      call.method,
      call.args ?? [],
      call.timeout ?? this.#settings.invokeClientTimeout,
      call.signal,
    ) as Promise<T>;
  }

  /**
   * Closes the hub: sends a Close message to every connection, closes them, waits for running
   * methods to end (their `context.signal` is aborted), and stops listening. Idempotent.
   *
   * @returns Resolves when everything is released.
   */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  /** {@linkcode TestHub.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- internals ----------------------------------------------------------------------------

  async #listen(): Promise<void> {
    this.#server = await listen((request, port) => this.#handle(request, port));
  }

  async #close(): Promise<void> {
    const closed = new Error("The TestHub was closed.");
    for (const waiter of this.#arrivalWaiters) waiter.reject(closed);
    this.#arrivalWaiters = [];
    const connections = [...this.#all];
    for (const connection of connections) connection.shutdown();
    const all = Promise.all(connections.map((connection) => connection.closed));
    if (!(await within(all, CLOSE_GRACE_MS))) {
      // A client did not finish closing (no answer to the close frame, no poll after the
      // Close): cut it.
      await Promise.all(connections.map((c) => c.abort()));
      await all;
    }
    await within(Promise.all(connections.map((c) => c.settled())), CLOSE_GRACE_MS);
    // The server first, so that its last answers (a poll's Close, the end of an event stream)
    // go through the relay before it cuts what is left.
    await this.#server!.close(RELAY_DRAIN_MS);
  }

  async #handle(request: Request, port: number): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === this.#path + "/negotiate") return await this.#negotiate(request, url);
    if (url.pathname !== this.#path) return await refuse(request, text("Not Found", 404));
    const accessToken = requestToken(request, url);
    if (!(await authorized(this.#tokenCheck, accessToken))) {
      return await refuse(request, unauthorized());
    }
    switch (request.method) {
      case "GET":
        return await this.#get(request, url, port, accessToken);
      case "POST":
        return await this.#post(request, url, port);
      case "DELETE":
        return this.#delete(request, url);
    }
    return await refuse(request, emptyResponse(405));
  }

  async #negotiate(request: Request, url: URL): Promise<Response> {
    await request.body?.cancel();
    if (request.method !== "POST") return text("Method Not Allowed", 405, { allow: "POST" });
    if (!(await authorized(this.#tokenCheck, requestToken(request, url)))) return unauthorized();
    const fault = resolve(this.faults.negotiate, request);
    if (fault !== undefined) return faultResponse(fault);
    const version = Number(url.searchParams.get("negotiateVersion") ?? 0) || 0;
    const stateful = this.#settings.statefulBufferSize !== undefined &&
      asksForStatefulReconnect(url.searchParams);
    const { body, negotiated } = negotiateAnswer(
      version,
      this.#transports,
      record(request),
      stateful,
    );
    // Forget tokens that expired unused (oldest first), so that they do not pile up.
    for (const [token, old] of this.#negotiated) {
      if (!this.#expired(old)) break;
      this.#negotiated.delete(token);
    }
    this.#negotiated.set(negotiated.connectionToken, negotiated);
    return json(body, 200, resolve(this.#negotiateHeaders, request));
  }

  /** A WebSocket upgrade, an event stream (`Accept: text/event-stream`), or a poll. */
  #get(
    request: Request,
    url: URL,
    port: number,
    accessToken: string | undefined,
  ): Response | Promise<Response> {
    const kind: TestHubTransport = request.headers.get("accept")?.includes("text/event-stream")
      ? "ServerSentEvents"
      : request.headers.get("upgrade")?.toLowerCase() === "websocket"
      ? "WebSockets"
      : "LongPolling";
    const refusal = resolve(
      this.faults.refuseTransports?.[kind] ??
        (kind === "WebSockets" ? this.faults.refuseWebSockets : undefined),
      request,
    );
    if (refusal !== undefined && refusal !== false) {
      return text(`TestHub refused the ${kind} request.`, refusal === true ? 503 : refusal);
    }
    const token = url.searchParams.get("id");
    const live = token === null ? undefined : this.#live.get(token);
    if (live) {
      live.connection.record(record(request));
      if (live.transport instanceof LongPollingTransport && kind === "LongPolling") {
        return live.transport.poll(request, port);
      }
      if (kind === "WebSockets" && live.transport.name === kind && live.connection.canReattach) {
        return this.#reattach(request, port, token!, live.connection);
      }
      // Connection tokens are single-use, as on ASP.NET Core: another transport cannot take a
      // connection over (400), and a second WebSocket or event stream for it is a conflict.
      return live.transport.name === kind
        ? emptyResponse(409)
        : text("Cannot change transports mid-connection", 400);
    }
    if (this.#closing) return text("The TestHub is closing.", 503);
    // Only a WebSocket may come without negotiate (skipNegotiation): it creates the connection.
    if (token === null && kind !== "WebSockets") return text("Connection ID required", 400);
    const negotiated = token === null ? undefined : this.#takeNegotiated(token, true);
    if (token !== null && !negotiated) return text("No Connection with that ID", 404);
    if (!this.#transports.has(kind)) {
      return text(`${kind} transport not supported by this end point type`, 404);
    }
    const query = new URLSearchParams(url.searchParams);
    query.delete("id");
    if (kind === "LongPolling") query.delete("_");
    // Read before an upgrade: the request is gone afterwards.
    const headers = new Headers(request.headers);
    const requests = [...negotiated?.requests ?? [], record(request)];
    const handshakeFault = resolve(this.faults.handshake, request);
    let transport: ServerTransport;
    let response: Response;
    if (kind === "WebSockets") {
      const upgrade = this.#server!.upgrade(request);
      transport = new WebSocketTransport(upgrade.socket, port, this.#server!.cutter);
      response = upgrade.response;
    } else if (kind === "ServerSentEvents") {
      const sse = new SseTransport(port, this.#server!.cutter);
      transport = sse;
      response = sse.response;
    } else {
      transport = new LongPollingTransport(this.#longPolling, this.#server!.cutter);
      response = LongPollingTransport.firstPollResponse();
    }
    const connection = new ServerConnection(transport, {
      id: negotiated?.connectionId ?? randomId(),
      token: token ?? undefined,
      headers,
      query,
      accessToken,
      handshakeFault,
      requests,
      early: negotiated?.early ?? [],
      statefulReconnect: kind === "WebSockets" && negotiated?.statefulReconnect === true,
    }, this.#host);
    this.#all.add(connection);
    if (token !== null) this.#live.set(token, { connection, transport });
    return response;
  }

  /**
   * A new WebSocket for a stateful reconnect connection (no negotiate, no handshake): it takes
   * the connection over, unless `refuseReattach` says otherwise.
   */
  #reattach(request: Request, port: number, token: string, connection: ServerConnection): Response {
    const refusal = connection.takeReattachRefusal();
    if (refusal === 404) return text("No Connection with that ID", 404);
    if (refusal !== undefined) return text("TestHub refused the reattach.", refusal);
    const upgrade = this.#server!.upgrade(request);
    const transport = new WebSocketTransport(upgrade.socket, port, this.#server!.cutter);
    connection.reattach(transport);
    this.#live.set(token, { connection, transport });
    return upgrade.response;
  }

  /** A send of Server-Sent Events or Long Polling. */
  async #post(request: Request, url: URL, port: number): Promise<Response> {
    const token = url.searchParams.get("id");
    if (token === null) return await refuse(request, text("Connection ID required", 400));
    const live = this.#live.get(token);
    const negotiated = live ? undefined : this.#takeNegotiated(token, false);
    if (!live && !negotiated) return await refuse(request, text("No Connection with that ID", 404));
    if (live) live.connection.record(record(request));
    else negotiated!.requests.push(record(request));
    const transport = live?.transport;
    if (transport && !(transport instanceof HttpTransport)) {
      return await refuse(
        request,
        text("POST requests are not allowed for WebSocket connections.", 405),
      );
    }
    const failure = resolve(this.faults.failPosts, request);
    if (failure !== undefined) return await refuse(request, emptyResponse(failure));
    if (transport) return await transport.post(request, port);
    // Before its transport, ASP.NET Core keeps what a connection is sent for the hub.
    negotiated!.early.push(await readBody(request));
    return emptyResponse(200);
  }

  /** Long Polling's stop. */
  #delete(request: Request, url: URL): Response {
    const token = url.searchParams.get("id");
    if (token === null) return text("Connection ID required", 400);
    const live = this.#live.get(token);
    if (!live) {
      return this.#takeNegotiated(token, false)
        ? text("Cannot terminate this connection using the DELETE endpoint.", 400)
        : text("No Connection with that ID", 404);
    }
    live.connection.record(record(request));
    if (!(live.transport instanceof LongPollingTransport)) {
      return text("Cannot terminate this connection using the DELETE endpoint.", 400);
    }
    return live.transport.delete();
  }

  /**
   * The negotiated connection of a token not yet used by a transport, if it has not expired
   * (ASP.NET Core disposes of one left unused for its disconnect timeout); `take` uses it up.
   */
  #takeNegotiated(token: string, take: boolean): Negotiated | undefined {
    const negotiated = this.#negotiated.get(token);
    if (!negotiated) return undefined;
    const expired = this.#expired(negotiated);
    if (expired || take) this.#negotiated.delete(token);
    return expired ? undefined : negotiated;
  }

  #expired(negotiated: Negotiated): boolean {
    return performance.now() - negotiated.created > this.#longPolling.disconnectTimeout;
  }

  #connected(connection: ServerConnection): void {
    this.#open.set(connection.id, connection);
    const waiter = this.#arrivalWaiters.shift();
    if (waiter) waiter.resolve(connection);
    else this.#arrivals.push(connection);
  }

  #disconnected(connection: ServerConnection): void {
    this.#all.delete(connection);
    const token = connection.token;
    if (token !== undefined && this.#live.get(token)?.connection === connection) {
      this.#live.delete(token);
    }
    if (this.#open.get(connection.id) === connection) this.#open.delete(connection.id);
    this.#groups.removeEverywhere(connection);
  }

  #connection(connectionId: string): ServerConnection {
    const connection = this.#open.get(connectionId);
    if (!connection) throw new RangeError(`The hub has no open connection '${connectionId}'.`);
    return connection;
  }
}

function statefulBufferSize(option: TestHubOptions["statefulReconnect"]): number | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return 100_000;
  const size = option.bufferSize ?? 100_000;
  if (typeof size !== "number" || !(size > 0)) {
    throw new TypeError(
      `statefulReconnect.bufferSize must be a positive number of bytes; got ${size}.`,
    );
  }
  return size;
}

function toDefinition(name: string, method: HubMethod | HubMethodDefinition): HubMethodDefinition {
  const definition = typeof method === "function" ? { handler: method } : method;
  if (typeof definition?.handler !== "function") {
    throw new TypeError(`Hub method '${name}' must be a function or { handler, ... }.`);
  }
  const streams = definition.streams;
  if (streams !== undefined) {
    const valid = Array.isArray(streams) &&
      streams.every((p) => Number.isInteger(p) && p >= 0) &&
      new Set(streams).size === streams.length;
    if (!valid) {
      throw new TypeError(
        `Hub method '${name}': streams must list distinct parameter positions (integers from 0).`,
      );
    }
  }
  isStreamMethod(definition);
  return definition;
}

/** A copy of what a test may want to see of a request. */
function record(request: Request): TestHubRequest {
  return { method: request.method, url: request.url, headers: new Headers(request.headers) };
}

/** Answers without reading the request's body. */
async function refuse(request: Request, response: Response): Promise<Response> {
  await request.body?.cancel().catch(() => {});
  return response;
}

function resolve<T>(
  knob: T | ((request: Request) => T | undefined) | undefined,
  request: Request,
): T | undefined {
  return typeof knob === "function" ? (knob as (request: Request) => T | undefined)(request) : knob;
}

function normalizePath(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.startsWith("/") ? trimmed : `/${trimmed}`;
}

async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
