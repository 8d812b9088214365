/**
 * `HubConnectionBuilder`: the fluent way to configure a {@linkcode HubConnection}.
 *
 * @module
 */
import type { HttpConnectionOptions } from "./connection/http_connection_options.ts";
import { HubConnection, type StatefulReconnectOptions } from "./hub_connection.ts";
import { type Logger, type LogLevel, type LogLevelName, toLogger } from "./logger.ts";
import type { HubProtocol } from "./protocol/hub_protocol.ts";
import { DEFAULT_RETRY_DELAYS, delaysPolicy, type RetryPolicy } from "./retry_policy.ts";
import type { HttpTransportType } from "./transport/transport.ts";
import type { UntypedHub } from "./typed_hub.ts";

/**
 * Configures and builds a {@linkcode HubConnection}.
 *
 * @example
 * ```ts
 * import { HubConnectionBuilder, LogLevel } from "@signalrcore/client";
 * const connection = new HubConnectionBuilder()
 *   .withUrl("http://localhost:5000/chat", { headers: { "X-Tenant": "a" } })
 *   .withAutomaticReconnect([0, 1000, 5000])
 *   .withServerTimeout(60_000)
 *   .configureLogging(LogLevel.Information)
 *   .build();
 * console.log(connection.state); // "Disconnected"
 * ```
 */
export class HubConnectionBuilder {
  #url: string | undefined;
  #connection: HttpConnectionOptions | undefined;
  #protocol: HubProtocol | undefined;
  #reconnect: RetryPolicy | undefined;
  #serverTimeout: number | undefined;
  #keepAlive: number | undefined;
  #handshakeTimeout: number | undefined;
  #closeTimeout: number | undefined;
  #stateful: StatefulReconnectOptions | undefined;
  #logger: Logger | LogLevel | string | undefined;

  /**
   * Sets the hub URL and how to reach it.
   *
   * @param url The hub URL (http or https; the client switches to ws/wss itself). In a page or a
   * worker it may be relative ("/chat"): it is resolved against the page's address.
   * @param options Transport options, or just the allowed transports (`HttpTransportType` flags,
   *   combined with `|` if need be).
   * @returns This builder.
   */
  withUrl(url: string, options?: HttpConnectionOptions | HttpTransportType | number): this {
    if (typeof url !== "string" || url === "") {
      throw new TypeError("withUrl needs the hub URL as a non-empty string.");
    }
    this.#url = url;
    this.#connection = typeof options === "number" ? { transport: options } : options;
    return this;
  }

  /**
   * Sets the hub protocol. Default: JSON.
   *
   * @param protocol The protocol, e.g. `new JsonHubProtocol()`.
   * @returns This builder.
   */
  withHubProtocol(protocol: HubProtocol): this {
    this.#protocol = protocol;
    return this;
  }

  /**
   * Reconnects automatically when the transport is lost or the server's Close allows it.
   *
   * @param policy Nothing for the default delays (0, 2, 10, 30 s), a list of delays in ms, or
   * a {@linkcode RetryPolicy}.
   * @returns This builder.
   */
  withAutomaticReconnect(policy?: readonly number[] | RetryPolicy): this {
    if (policy === undefined) this.#reconnect = delaysPolicy(DEFAULT_RETRY_DELAYS);
    else if (Array.isArray(policy)) this.#reconnect = delaysPolicy(policy);
    else if (typeof (policy as RetryPolicy).nextRetryDelayInMilliseconds === "function") {
      this.#reconnect = policy as RetryPolicy;
    } else {
      throw new TypeError("withAutomaticReconnect takes an array of delays or a RetryPolicy.");
    }
    return this;
  }

  /**
   * Sets how long the server may stay silent before the connection is considered lost.
   *
   * @param milliseconds Default 30 000; keep it at least twice the server's keep-alive.
   * @returns This builder.
   */
  withServerTimeout(milliseconds: number): this {
    this.#serverTimeout = milliseconds;
    return this;
  }

  /**
   * Sets how long the client may stay silent before it sends a ping. One ping also goes out
   * right after the handshake (not on Long Polling): ASP.NET Core starts its client timeout at
   * the first one it receives.
   *
   * @param milliseconds Default 15 000.
   * @returns This builder.
   */
  withKeepAliveInterval(milliseconds: number): this {
    this.#keepAlive = milliseconds;
    return this;
  }

  /**
   * Sets how long `start()` waits for the handshake response.
   *
   * @param milliseconds Default 15 000.
   * @returns This builder.
   */
  withHandshakeTimeout(milliseconds: number): this {
    this.#handshakeTimeout = milliseconds;
    return this;
  }

  /**
   * Sets the longest wait of `stop()` (and of the close after a lost connection) for the Close
   * message to be written and the transport to confirm its close. Past it the connection is
   * Disconnected anyway, even when the server neither reads nor answers.
   *
   * @param milliseconds Default 5 000.
   * @returns This builder.
   *
   * @example
   * ```ts
   * import { HubConnectionBuilder } from "@signalrcore/client";
   * new HubConnectionBuilder().withUrl("http://localhost:5000/hub").withCloseTimeout(1_000);
   * ```
   */
  withCloseTimeout(milliseconds: number): this {
    this.#closeTimeout = milliseconds;
    return this;
  }

  /**
   * Turns stateful reconnect on (ASP.NET Core 8+ with `AllowStatefulReconnects`, WebSockets):
   * when the transport drops, the client reattaches to the same server connection with the same
   * connection token, retrying with backoff, and both sides send again what the other did not
   * acknowledge, so nothing is lost or duplicated and pending calls carry on. The state stays
   * `Connected` meanwhile; `onsuspended` and `onresumed` tell, and an Information log line. When
   * the server no longer knows the connection, automatic reconnect (if enabled) takes over.
   * Over Server-Sent Events or Long Polling it is off, with a log line.
   *
   * @example
   * ```ts
   * import { HubConnectionBuilder } from "@signalrcore/client";
   * new HubConnectionBuilder()
   *   .withUrl("http://localhost:5000/hub")
   *   .withStatefulReconnect({ bufferSize: 100_000 })
   *   .withAutomaticReconnect()
   *   .build();
   * ```
   *
   * @param options `bufferSize`: bytes sent and not yet acknowledged before sends wait.
   * @returns This builder.
   */
  withStatefulReconnect(options: StatefulReconnectOptions = {}): this {
    this.#stateful = options;
    return this;
  }

  /**
   * Sets logging: a minimum level for the console (a `LogLevel`, or its name as
   * `@microsoft/signalr` takes it: `"warn"`, `"information"`…), or a {@linkcode Logger}.
   *
   * @param logging A `LogLevel`, a level's name or a logger. Default: warnings and errors to the
   * console.
   * @returns This builder.
   * @throws {TypeError} For anything else (an unknown name, a number out of range).
   */
  configureLogging(
    logging: LogLevel | LogLevelName | Logger | (string & Record<never, never>),
  ): this {
    toLogger(logging);
    this.#logger = logging;
    return this;
  }

  /**
   * Creates the connection (Disconnected; call `start()`). Give it the interfaces of the hub
   * (`Server`) and of the client methods the hub calls (`Client`) to type every call, stream,
   * upload and handler; without them everything is `unknown`.
   *
   * @typeParam Server The hub's methods, as the C# hub declares them.
   * @typeParam Client The methods the hub calls on the client.
   * @returns The connection.
   *
   * @example A typed hub
   * ```ts
   * import { HubConnectionBuilder } from "@signalrcore/client";
   * interface ChatServer {
   *   SendMessage(user: string, text: string): void;
   *   Counter(count: number, delay: number): AsyncIterable<number>;
   * }
   * interface ChatClient {
   *   ReceiveMessage(user: string, text: string): void;
   * }
   * const connection = new HubConnectionBuilder()
   *   .withUrl("http://localhost:5000/chat")
   *   .build<ChatServer, ChatClient>();
   * connection.on("ReceiveMessage", (user, text) => console.log(user.toUpperCase(), text));
   * ```
   */
  build<Server extends object = UntypedHub, Client extends object = UntypedHub>(): HubConnection<
    Server,
    Client
  > {
    if (this.#url === undefined) {
      throw new TypeError("Call withUrl(url) before build(): the hub URL is required.");
    }
    return new HubConnection<Server, Client>({
      url: this.#url,
      connection: this.#connection,
      protocol: this.#protocol,
      reconnectPolicy: this.#reconnect,
      serverTimeout: this.#serverTimeout,
      keepAliveInterval: this.#keepAlive,
      handshakeTimeout: this.#handshakeTimeout,
      closeTimeout: this.#closeTimeout,
      logger: this.#logger ?? this.#connection?.logger,
      statefulReconnect: this.#stateful,
    });
  }
}
