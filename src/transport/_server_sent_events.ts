// Server-Sent Events over fetch with a streamed body (not EventSource, so that headers, tokens
// and cookies work on every runtime): GET {url}?id=<token>, `Accept: text/event-stream`. Each
// event's data is one or more hub records; sends are POSTs. Text only. The connection has ended
// when the response body ends.
import { TransportClosedError } from "../errors.ts";
import type { HttpClient } from "../http/_http_client.ts";
import { httpError } from "../http/_http_client.ts";
import { LogLevel } from "../logger.ts";
import { within } from "../_within.ts";
import { HttpTransport } from "./_http_transport.ts";
import { SseParser } from "./_sse_parser.ts";
import type {
  Transport,
  TransportConnectOptions,
  TransportFactory,
  TransportFeatures,
} from "./transport.ts";

const FEATURES: TransportFeatures = { inherentKeepAlive: false, statefulReconnect: false };

/** Options of the Server-Sent Events transport. */
export interface ServerSentEventsOptions {
  /** The longest wait for the response headers, in ms (the body has no timeout). */
  readonly connectTimeout: number;
  /** The largest event accepted, in characters. */
  readonly maxEventSize: number;
}

/** Connects Server-Sent Events. */
export function serverSentEventsTransport(options: ServerSentEventsOptions): TransportFactory {
  return {
    name: "ServerSentEvents",
    connect: (connect) => ServerSentEventsTransport.connect(connect, options),
  };
}

class ServerSentEventsTransport extends HttpTransport {
  readonly name = "ServerSentEvents";
  readonly features = FEATURES;
  #reading: Promise<void> | undefined;

  private constructor(options: TransportConnectOptions, abort: AbortController) {
    super(options, abort);
  }

  static async connect(
    options: TransportConnectOptions,
    { connectTimeout, maxEventSize }: ServerSentEventsOptions,
  ): Promise<Transport> {
    if (options.transferFormat !== "Text") {
      throw new TypeError("Server-Sent Events carry text only; a binary protocol cannot use them.");
    }
    options.signal?.throwIfAborted();
    // One controller for the stream's whole life; while connecting, the start's signal and a
    // timeout for the headers end it too.
    const abort = new AbortController();
    const onAbort = () => abort.abort(options.signal!.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(
      () =>
        abort.abort(
          new DOMException(
            `The Server-Sent Events response did not arrive within ${connectTimeout} ms.`,
            "TimeoutError",
          ),
        ),
      connectTimeout,
    );
    let response: Response;
    try {
      response = await connectStream(options.http, options.url, abort.signal);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
    const transport = new ServerSentEventsTransport(options, abort);
    options.logger.log(LogLevel.Debug, "Server-Sent Events connected.");
    transport.#reading = transport.#read(response.body!, new SseParser(maxEventSize));
    return transport;
  }

  async #read(body: ReadableStream<Uint8Array>, parser: SseParser): Promise<void> {
    const read = reader(body);
    try {
      for (;;) {
        const { done, value } = await read.next();
        if (this.ended) return;
        if (done) {
          parser.end();
          return this.end(
            new TransportClosedError("The server ended the Server-Sent Events stream."),
          );
        }
        const events = parser.push(value!);
        for (let i = 0; i < events.length && !this.ended; i++) this.receiver.onFrame(events[i]);
      }
    } catch (error) {
      if (this.ended) return;
      this.end(
        error instanceof Error && error.name === "ProtocolError"
          ? error
          : new TransportClosedError("The Server-Sent Events stream failed.", { cause: error }),
      );
    } finally {
      read.release();
      // Ends the body (and its connection) whatever way reading stopped.
      body.cancel().catch(() => {});
    }
  }

  /** The stream is cut. */
  protected async stopReceiving(left: () => number): Promise<void> {
    await within(this.#reading ?? Promise.resolve(), left());
  }
}

async function connectStream(
  http: HttpClient,
  url: string,
  signal: AbortSignal,
): Promise<Response> {
  const response = await http.request({
    method: "GET",
    url,
    accept: "text/event-stream",
    signal,
    // The signal goes to fetch as is, so that it also ends the body later.
    timeout: false,
    what: "Server-Sent Events",
  });
  const type = response.headers.get("Content-Type") ?? "";
  if (response.status !== 200 || !type.startsWith("text/event-stream") || !response.body) {
    const text = await response.text().catch(() => "");
    if (response.status !== 200) throw httpError("Server-Sent Events", response, text);
    throw new TransportClosedError(
      `Server-Sent Events: the server answered with '${
        type || "no content type"
      }', not an event stream.`,
    );
  }
  return response;
}

const READ_SIZE = 64 * 1024;

/**
 * Reads a body into one reused buffer where the stream allows it (a byte stream, as fetch
 * bodies are): a stream that keeps up with the server arrives in reads of a few bytes, and a
 * fresh 64 KB buffer for each of them made most of the garbage. The parser decodes each chunk
 * before the next read, so reusing the buffer is safe.
 */
function reader(body: ReadableStream<Uint8Array>) {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: the default reader below.
  }
  if (byob) {
    const bytes = byob;
    let buffer = new ArrayBuffer(READ_SIZE);
    return {
      async next(): Promise<{ done: boolean; value: Uint8Array | undefined }> {
        const { done, value } = await bytes.read(new Uint8Array(buffer));
        if (value) buffer = value.buffer as ArrayBuffer;
        return { done, value };
      },
      release: () => bytes.releaseLock(),
    };
  }
  const plain = body.getReader();
  return {
    next: () => plain.read(),
    release: () => plain.releaseLock(),
  };
}
