// Long Polling: GET {url}?id=<token>&_=<time> in a loop, each answered with whatever the server
// has queued (200), nothing yet (200, empty: poll again), or the end (204). Sends are POSTs. The
// server answers an idle poll after about 90 s, so the transport keeps itself alive: no pings
// and no server timeout on it.
import { within } from "../_within.ts";
import { ProtocolError, TransportClosedError } from "../errors.ts";
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

// The connect's first poll is answered at once, empty on ASP.NET Core; what it brings is held
// until it has succeeded, up to this much.
const FIRST_POLL_MAX = 1 << 20;

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
  /**
   * Text: one UTF-8 decoder for the whole connection, never flushed between polls, since a
   * character may be cut between two chunks and between two polls as well.
   */
  readonly #utf8: TextDecoder | undefined;
  #polling: Promise<void> | undefined;

  private constructor(options: TransportConnectOptions, pollTimeout: number) {
    super(options);
    this.#http = options.http;
    this.#url = options.url;
    this.#binary = options.transferFormat === "Binary";
    this.#pollTimeout = pollTimeout;
    // One decoder for the connection: a character cut between two polls is completed by the
    // next; a U+FEFF in the data is data, not a byte-order mark to drop.
    this.#utf8 = this.#binary ? undefined : new TextDecoder("utf-8", { ignoreBOM: true });
  }

  static async connect(
    options: TransportConnectOptions,
    { pollTimeout }: LongPollingOptions,
  ): Promise<Transport> {
    const transport = new LongPollingTransport(options, pollTimeout);
    // The first poll is answered at once; only a 200 makes the connection count as connected.
    const held: (string | Uint8Array)[] = [];
    const first = await transport.#poll(options.signal, held);
    if (first.status !== 200) {
      throw first.status === 204
        ? new TransportClosedError("The server ended the Long Polling connection at once (204).")
        : httpError("Long Polling", first, first.text);
    }
    options.logger.log(LogLevel.Debug, "Long Polling connected.");
    transport.#polling = transport.#loop(held);
    return transport;
  }

  /**
   * One poll. Its body goes to the receiver as it arrives (`deliver`), so that the decoder's
   * size limit refuses a message past maxReceiveMessageSize without the whole body being read
   * first; the connect's first poll keeps its body until the poll has succeeded (`held`).
   */
  async #poll(signal?: AbortSignal, held?: (string | Uint8Array)[]) {
    const request = {
      method: "GET" as const,
      // A fresh `_` keeps caches and proxies from answering a poll with an earlier one.
      url: `${this.#url}&_=${Date.now()}`,
      signal: signal ?? this.abort.signal,
      timeout: this.#pollTimeout,
      what: "Poll",
    };
    const utf8 = this.#utf8;
    let heldSize = 0;
    const deliver = (frame: string | Uint8Array) => {
      if (frame.length === 0 || this.ended) return;
      if (!held) return this.receiver.onFrame(frame);
      heldSize += frame.length;
      if (heldSize > FIRST_POLL_MAX) {
        throw new ProtocolError(
          `The first Long Polling poll brought more than ${FIRST_POLL_MAX} bytes before the handshake.`,
        );
      }
      held.push(frame);
    };
    const answer = await this.#http.stream(
      request,
      (chunk) => deliver(utf8 ? utf8.decode(chunk, { stream: true }) : chunk),
    );
    return answer;
  }

  async #loop(first: readonly (string | Uint8Array)[]): Promise<void> {
    try {
      for (const frame of first) if (!this.ended) this.receiver.onFrame(frame);
      while (!this.ended) {
        const answer = await this.#poll();
        if (this.ended) return;
        if (answer.status === 204) {
          // The server closed the connection; a Close message, if any, came before it.
          return this.end(
            new TransportClosedError("The server ended the Long Polling connection (204)."),
          );
        }
        if (answer.status !== 200) return this.end(httpError("Poll", answer, answer.text));
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
