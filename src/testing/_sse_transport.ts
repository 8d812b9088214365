// The Server-Sent Events transport of a hub connection: one long GET whose response body is an
// event stream, written as ASP.NET Core writes it; client data comes as POSTs.
import { HttpTransport } from "./_http_transport.ts";
import type { Cutter } from "./_server_transport.ts";

const encoder = new TextEncoder();

/** A connection's event stream. */
export class SseTransport extends HttpTransport {
  readonly name = "ServerSentEvents";
  readonly binary = false;
  readonly inherentKeepAlive = false;
  /** The answer to the GET: the event stream. */
  readonly response: Response;
  readonly #port: number;
  readonly #controller: ReadableStreamDefaultController<Uint8Array>;
  #decoder: TextDecoder | undefined;

  /**
   * @param port The port `Deno.serve` saw for the GET: the relay cuts and freezes by it.
   * @param cutter The relay.
   */
  constructor(port: number, cutter: Cutter) {
    super(cutter);
    this.#port = port;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => void (controller = c),
      // The client went away; the relay may have seen it first (clientEnded).
      cancel: () => this.finish(),
    }, { highWaterMark: 0, size: (chunk) => chunk.byteLength });
    this.#controller = controller;
    cutter.clientEnded(port).then(() => this.finish());
    // ASP.NET Core starts with a comment line, so that browsers fire `open` at once.
    controller.enqueue(encoder.encode(":\r\n"));
    this.response = new Response(body, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache,no-store",
        pragma: "no-cache",
        // Also keeps Deno.serve from compressing, which would hold events back.
        "content-encoding": "identity",
      },
    });
  }

  get bufferedAmount(): number {
    return Math.max(0, -(this.#controller.desiredSize ?? 0));
  }

  write(frame: string | Uint8Array): void {
    const text = typeof frame === "string"
      ? frame
      : (this.#decoder ??= new TextDecoder()).decode(frame);
    this.#controller.enqueue(encoder.encode(formatEvent(text)));
  }

  close(): void {
    this.finish();
  }

  shutdown(): void {
    this.finish();
  }

  protected livePorts(): readonly number[] {
    return this.ended ? [] : [this.#port];
  }

  protected release(): void {
    try {
      this.#controller.close();
    } catch {
      // the client cancelled the stream
    }
  }
}

/**
 * One payload as one event, the way ASP.NET Core's ServerSentEventsMessageFormatter writes it:
 * each line (split at `\n`, a trailing `\r` dropped) as a `data: ` line, then a blank line.
 */
export function formatEvent(payload: string): string {
  if (!payload.includes("\n")) {
    return payload.length > 0 ? `data: ${payload}\r\n\r\n` : "\r\n";
  }
  let event = "";
  for (const line of payload.split("\n")) {
    event += `data: ${line.length > 1 && line.endsWith("\r") ? line.slice(0, -1) : line}\r\n`;
  }
  return event + "\r\n";
}
