// The Long Polling transport of a hub connection, as ASP.NET Core's dispatcher runs it: the
// first poll returns at once (the connection is then established); later polls wait for data
// (200 with everything queued), or answer 200 empty after the poll timeout; 204 once the
// connection has ended; a new poll ends the one before it with 204; DELETE ends the connection.
// A connection with no poll waiting for `disconnectTimeout` is closed: on Long Polling this,
// not the hub's client timeout, is what ends a client that went away.
import { emptyResponse, HttpTransport } from "./_http_transport.ts";
import type { Cutter, TransportEvents } from "./_server_transport.ts";

const encoder = new TextEncoder();
const NO_CACHE = {
  "cache-control": "no-cache, no-store",
  pragma: "no-cache",
  expires: "Thu, 01 Jan 1970 00:00:00 GMT",
};

/** Timers of a Long Polling connection. */
export interface LongPollingSettings {
  /** How long a poll waits for data before the empty 200, in ms. */
  readonly pollTimeout: number;
  /** How long the connection may go without a waiting poll before it is closed, in ms. */
  readonly disconnectTimeout: number;
}

interface Poll {
  readonly port: number;
  readonly timer: ReturnType<typeof setTimeout>;
  resolve(response: Response): void;
}

/** A connection's polls. */
export class LongPollingTransport extends HttpTransport {
  readonly name = "LongPolling";
  readonly binary = true;
  readonly inherentKeepAlive = true;
  readonly #settings: LongPollingSettings;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #poll: Poll | undefined;
  #answering = false;
  #closing = false;
  #shuttingDown = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(settings: LongPollingSettings, cutter: Cutter) {
    super(cutter);
    this.#settings = settings;
  }

  /** The answer to the first poll, which creates the connection. */
  static firstPollResponse(): Response {
    return emptyResponse(200, { ...NO_CACHE, "content-type": "application/octet-stream" });
  }

  override get writable(): boolean {
    return super.writable && !this.#closing;
  }

  get bufferedAmount(): number {
    return this.#queued;
  }

  override start(events: TransportEvents): void {
    super.start(events);
    this.#idle();
  }

  write(frame: string | Uint8Array): void {
    // Bytes are copied: they wait for a poll, and the caller may reuse its buffer meanwhile.
    const bytes = typeof frame === "string" ? encoder.encode(frame) : frame.slice();
    this.#queue.push(bytes);
    this.#queued += bytes.byteLength;
    if (this.#poll && !this.#answering) {
      // Answer after the current turn, so that messages written together go in one poll.
      this.#answering = true;
      queueMicrotask(() => {
        this.#answering = false;
        if (this.#poll && this.#queued > 0) this.#settle(this.#poll, this.#takeQueued());
      });
    }
  }

  /** A poll after the first: `GET {path}?id=`. */
  poll(request: Request, port: number): Promise<Response> {
    clearTimeout(this.#idleTimer);
    if (this.ended) return Promise.resolve(noContent());
    if (this.frozen) return this.swallow(request, port);
    // As on ASP.NET Core, a new poll ends the one still waiting with 204.
    if (this.#poll) this.#settle(this.#poll, noContent());
    if (this.#queued > 0) {
      const response = this.#takeQueued();
      if (this.#shuttingDown) this.finish();
      else this.#idle();
      return Promise.resolve(response);
    }
    if (this.#closing) {
      this.finish();
      return Promise.resolve(noContent());
    }
    const { promise, resolve } = Promise.withResolvers<Response>();
    const poll: Poll = {
      port,
      resolve,
      timer: setTimeout(
        () => this.#settle(poll, emptyResponse(200, NO_CACHE)),
        this.#settings.pollTimeout,
      ),
    };
    // A client that gave up on its poll (ASP.NET Core sees the request aborted): the
    // disconnect timeout runs from now. Nobody reads the answer.
    this.cutter.clientEnded(port).then(() => this.#settle(poll, noContent()));
    this.#poll = poll;
    return promise;
  }

  /** `DELETE {path}?id=`: the client ends the connection; a waiting poll gets 204. */
  delete(): Response {
    this.finish();
    return emptyResponse(202);
  }

  close(): void {
    this.#closing = true;
    // What is queued still goes out with the next poll; the one after it gets 204.
    if (this.#queued === 0 && this.#poll) this.finish();
  }

  shutdown(): void {
    // What is queued (the Close) goes with the waiting poll, or the next one if the client is
    // between two polls; then the connection is gone, without the 204 poll.
    this.#closing = this.#shuttingDown = true;
    if (this.#poll && this.#queued > 0) this.#settle(this.#poll, this.#takeQueued());
    if (this.#queued === 0) this.finish();
  }

  protected livePorts(): readonly number[] {
    return this.#poll && !this.ended ? [this.#poll.port] : [];
  }

  protected release(): void {
    clearTimeout(this.#idleTimer);
    if (this.#poll) this.#settle(this.#poll, noContent());
    this.#queue = [];
    this.#queued = 0;
  }

  #takeQueued(): Response {
    const body = new Uint8Array(this.#queued);
    let offset = 0;
    for (const bytes of this.#queue) {
      body.set(bytes, offset);
      offset += bytes.byteLength;
    }
    this.#queue = [];
    this.#queued = 0;
    return new Response(body, {
      status: 200,
      headers: { ...NO_CACHE, "content-type": "application/octet-stream" },
    });
  }

  #settle(poll: Poll, response: Response): void {
    if (this.#poll !== poll) return;
    this.#poll = undefined;
    clearTimeout(poll.timer);
    poll.resolve(response);
    this.#idle();
  }

  /** No poll is waiting: the disconnect timeout runs until the next one. */
  #idle(): void {
    clearTimeout(this.#idleTimer);
    if (this.ended || this.frozen) return;
    this.#idleTimer = setTimeout(() => this.finish(true), this.#settings.disconnectTimeout);
  }
}

function noContent(): Response {
  return emptyResponse(204, NO_CACHE);
}
