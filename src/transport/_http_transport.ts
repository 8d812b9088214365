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
      (error) => this.end(error),
    );
  }

  send(frames: readonly (string | Uint8Array)[], size: number): Promise<void> | undefined {
    if (this.ended) {
      return Promise.reject(new TransportClosedError(`Cannot send: ${this.name} has ended.`));
    }
    return this.#sender.send(frames, size);
  }

  /** Ends on its own (the server, a failed request): reports the error once. */
  protected end(error: Error): void {
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
