// What Server-Sent Events and Long Polling share: client-to-server data comes as POSTs, and a
// drop or a freeze acts on every TCP connection that carries one of the connection's requests.
import type { Cutter, ServerTransport, TransportEvents } from "./_server_transport.ts";
import type { TestHubTransport } from "./test_hub_client.ts";

/** A plain text answer with no body. */
export function emptyResponse(status: number, headers?: Record<string, string>): Response {
  return new Response(null, { status, headers: { "content-type": "text/plain", ...headers } });
}

/** A POST body: bytes for `application/octet-stream`, text otherwise. */
export async function readBody(request: Request): Promise<string | Uint8Array> {
  return request.headers.get("content-type")?.includes("application/octet-stream")
    ? new Uint8Array(await request.arrayBuffer())
    : await request.text();
}

/** The SSE or Long Polling transport of one connection. */
export abstract class HttpTransport implements ServerTransport {
  abstract readonly name: TestHubTransport;
  abstract readonly binary: boolean;
  abstract readonly inherentKeepAlive: boolean;
  abstract readonly bufferedAmount: number;
  protected readonly cutter: Cutter;
  #events: TransportEvents | undefined;
  #ended = false;
  #frozen = false;
  // Frozen requests' TCP connections: drop() cuts them too.
  readonly #frozenPorts = new Set<number>();
  #sending: Promise<void> = Promise.resolve();

  constructor(cutter: Cutter) {
    this.cutter = cutter;
  }

  /** Whether the transport has reported its end. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Whether `freeze()` was called. */
  get frozen(): boolean {
    return this.#frozen;
  }

  get writable(): boolean {
    return !this.#ended;
  }

  abstract write(frame: string | Uint8Array): void;
  abstract close(): void;
  abstract shutdown(): void;

  /** The TCP ports of the requests the transport holds open (the SSE stream, a waiting poll). */
  protected abstract livePorts(): readonly number[];

  /** Answers whatever request the transport still holds; called once, when it ends. */
  protected abstract release(): void;

  start(events: TransportEvents): void {
    this.#events = events;
    events.opened();
  }

  /**
   * One send from the client (`POST {path}?id=`): its body is passed on as one frame, text or,
   * for `application/octet-stream`, bytes.
   */
  async post(request: Request, port: number): Promise<Response> {
    if (this.#frozen) return await this.swallow(request, port);
    // ASP.NET Core takes the connection's write lock, so a second POST waits for the first
    // rather than being answered 409 as the spec says (`faults.failPosts` can answer 409).
    const previous = this.#sending;
    const { promise: done, resolve } = Promise.withResolvers<void>();
    this.#sending = done;
    try {
      await previous;
      let data: string | Uint8Array;
      try {
        data = await readBody(request);
      } catch {
        // The client went away in the middle of the body, as ASP.NET Core answers it.
        return emptyResponse(400);
      }
      if (this.#frozen) return await this.swallow(request, port);
      if (this.#ended) return emptyResponse(404);
      this.#events!.frame(data);
      return emptyResponse(200);
    } finally {
      resolve();
    }
  }

  async drop(): Promise<void> {
    const ports = new Set([...this.#frozenPorts, ...this.livePorts()]);
    this.#frozenPorts.clear();
    await Promise.all([...ports].map((port) => this.cutter.abort(port)));
    this.finish();
  }

  freeze(): void {
    this.#frozen = true;
    for (const port of this.livePorts()) this.#freezePort(port);
  }

  /**
   * A request of a frozen connection: its TCP connection is frozen, so the answer never
   * reaches the client, and what it carried is not processed.
   */
  protected async swallow(request: Request, port: number): Promise<Response> {
    this.#freezePort(port);
    await request.body?.cancel().catch(() => {});
    return emptyResponse(200);
  }

  /** Reports the end once: `timedOut` when a Long Polling client stopped polling. */
  protected finish(timedOut?: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.release();
    this.#events?.closed(timedOut);
  }

  #freezePort(port: number): void {
    this.#frozenPorts.add(port);
    this.cutter.freeze(port);
  }
}
