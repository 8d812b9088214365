// What Server-Sent Events and Long Polling share: sends through one HttpSender, an end reported
// once, and a close that lets what was sent go out first, all within its bound. Each subclass
// only receives (a stream, a poll loop) and says how it stops receiving.
import { TransportClosedError } from "../errors.ts";
import { type Logger, LogLevel } from "../logger.ts";
import { within } from "../_within.ts";
import { HttpSender } from "./_http_sender.ts";
import type {
  Transport,
  TransportConnectOptions,
  TransportFeatures,
  TransportName,
  TransportReceiver,
} from "./transport.ts";

/** How long a send's 404 waits for the server's own end to arrive on the receiving side. */
const GONE_GRACE_MS = 1_000;

/** A transport whose sends are POSTs. */
export abstract class HttpTransport implements Transport {
  abstract readonly name: TransportName;
  abstract readonly features: TransportFeatures;
  protected readonly receiver: TransportReceiver;
  protected readonly logger: Logger;
  /** Ends what the subclass receives with (its fetch and body). */
  protected readonly abort: AbortController;
  protected ended = false;
  readonly #sender: HttpSender;
  #closing: Promise<void> | undefined;

  protected constructor(options: TransportConnectOptions, abort = new AbortController()) {
    this.receiver = options.receiver;
    this.logger = options.logger;
    this.abort = abort;
    this.#sender = new HttpSender(
      options.http,
      options.url,
      options.transferFormat === "Binary",
      (error, gone) => this.#sendFailed(error, gone),
    );
  }

  #gone: ReturnType<typeof setTimeout> | undefined;

  /**
   * A send that got 404 raced the server's end: what the server sent last (its Close message,
   * the end of the stream or poll) is still on its way, and says more than the 404 (a Close
   * that allows no reconnect). It gets a moment to arrive before the 404 ends the transport.
   */
  #sendFailed(error: Error, gone: boolean): void {
    if (!gone || this.ended) return this.end(error);
    this.#gone ??= setTimeout(() => this.end(error), GONE_GRACE_MS);
  }

  send(frames: readonly (string | Uint8Array)[], size: number): Promise<void> | undefined {
    if (this.ended) {
      return Promise.reject(new TransportClosedError(`Cannot send: ${this.name} has ended.`));
    }
    return this.#sender.send(frames, size);
  }

  /** Ends on its own (the server, a failed request): reports the error once. */
  protected end(error: Error): void {
    clearTimeout(this.#gone);
    if (this.ended) return;
    this.ended = true;
    this.abort.abort(error);
    this.#sender.close();
    this.logger.log(LogLevel.Debug, `${this.name} ended: ${error.message}`);
    this.receiver.onClose(error);
  }

  close(timeout: number): Promise<void> {
    if (this.ended && !this.#closing) return Promise.resolve();
    return this.#closing ??= this.#close(timeout);
  }

  /** What was sent goes out first; then receiving stops. */
  async #close(timeout: number): Promise<void> {
    clearTimeout(this.#gone);
    const deadline = performance.now() + timeout;
    await within(this.#sender.idle(), timeout);
    this.ended = true;
    this.abort.abort(new TransportClosedError(`${this.name} was closed.`));
    this.#sender.close();
    await this.stopReceiving(() => Math.max(0, deadline - performance.now()));
    this.receiver.onClose(undefined);
  }

  /** After the abort: waits for the receiving side to let go, within `left()` ms. */
  protected abstract stopReceiving(left: () => number): Promise<void>;
}
