// Long Polling: GET {url}?id=<token>&_=<time> in a loop, each answered with whatever the server
// has queued (200), nothing yet (200, empty: poll again), or the end (204). Sends are POSTs. The
// server answers an idle poll after about 90 s, so the transport keeps itself alive: no pings
// and no server timeout on it.
import { within } from "../_within.ts";
import { TransportClosedError } from "../errors.ts";
import { httpError } from "../http/_http_client.ts";
import { LogLevel } from "../logger.ts";
import { HttpTransport } from "./_http_transport.ts";
import type {
  Transport,
  TransportConnectOptions,
  TransportFactory,
  TransportFeatures,
} from "./transport.ts";
import type { HttpClient } from "../http/_http_client.ts";

const FEATURES: TransportFeatures = { inherentKeepAlive: true, statefulReconnect: false };

/** Options of the Long Polling transport. */
export interface LongPollingOptions {
  /** The longest wait for one poll's answer, in ms (the server answers an idle poll sooner). */
  readonly pollTimeout: number;
}

/** Connects Long Polling. */
export function longPollingTransport(options: LongPollingOptions): TransportFactory {
  return {
    name: "LongPolling",
    connect: (connect) => LongPollingTransport.connect(connect, options),
  };
}

class LongPollingTransport extends HttpTransport {
  readonly name = "LongPolling";
  readonly features = FEATURES;
  readonly #http: HttpClient;
  readonly #url: string;
  readonly #binary: boolean;
  readonly #pollTimeout: number;
  #polling: Promise<void> | undefined;

  private constructor(options: TransportConnectOptions, pollTimeout: number) {
    super(options);
    this.#http = options.http;
    this.#url = options.url;
    this.#binary = options.transferFormat === "Binary";
    this.#pollTimeout = pollTimeout;
  }

  static async connect(
    options: TransportConnectOptions,
    { pollTimeout }: LongPollingOptions,
  ): Promise<Transport> {
    const transport = new LongPollingTransport(options, pollTimeout);
    // The first poll is answered at once; only a 200 makes the connection count as connected.
    const first = await transport.#poll(options.signal);
    if (first.status !== 200) {
      throw first.status === 204
        ? new TransportClosedError("The server ended the Long Polling connection at once (204).")
        : httpError("Long Polling", first, typeof first.body === "string" ? first.body : "");
    }
    options.logger.log(LogLevel.Debug, "Long Polling connected.");
    transport.#polling = transport.#loop(first.body);
    return transport;
  }

  async #poll(signal?: AbortSignal) {
    const request = {
      method: "GET" as const,
      // A fresh `_` keeps caches and proxies from answering a poll with an earlier one.
      url: `${this.#url}&_=${Date.now()}`,
      signal: signal ?? this.abort.signal,
      timeout: this.#pollTimeout,
      what: "Poll",
    };
    if (this.#binary) {
      const { status, statusText, bytes } = await this.#http.bytes(request);
      return { status, statusText, body: bytes as string | Uint8Array };
    }
    const { status, statusText, text } = await this.#http.text(request);
    return { status, statusText, body: text as string | Uint8Array };
  }

  async #loop(first: string | Uint8Array): Promise<void> {
    try {
      if (first.length > 0) this.receiver.onFrame(first);
      while (!this.ended) {
        const answer = await this.#poll();
        if (this.ended) return;
        if (answer.status === 204) {
          // The server closed the connection; a Close message, if any, came before it.
          return this.end(
            new TransportClosedError("The server ended the Long Polling connection (204)."),
          );
        }
        if (answer.status !== 200) {
          return this.end(
            httpError("Poll", answer, typeof answer.body === "string" ? answer.body : ""),
          );
        }
        if (answer.body.length > 0) this.receiver.onFrame(answer.body);
      }
    } catch (error) {
      if (!this.ended) this.end(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** The poll stops, and the server hears DELETE. */
  protected async stopReceiving(left: () => number): Promise<void> {
    await within(this.#polling ?? Promise.resolve(), left());
    try {
      const deleted = await this.#http.text({
        method: "DELETE",
        url: this.#url,
        timeout: Math.max(1, left()),
        what: "Delete",
      });
      this.logger.log(LogLevel.Debug, `Long Polling DELETE answered ${deleted.status}.`);
    } catch (error) {
      this.logger.log(
        LogLevel.Debug,
        `Long Polling DELETE failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}
