/**
 * The JSON hub protocol: each message is a JSON object followed by the record separator 0x1E.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import { type Logger, LogLevel } from "../logger.ts";
import type {
  DecoderOptions,
  HubMessageDecoder,
  HubProtocol,
  TransferFormat,
} from "./hub_protocol.ts";
import { type HubMessage, MessageType } from "./messages.ts";
import { RECORD_SEPARATOR } from "./_record_separator.ts";
import { readHotRecord } from "./_json_fast_path.ts";

/**
 * The JSON hub protocol (the default). Object keys pass through unchanged: ASP.NET Core
 * camel-cases member names by default.
 *
 * @example
 * ```ts
 * import { JsonHubProtocol, MessageType } from "@signalrcore/client";
 * const protocol = new JsonHubProtocol();
 * console.log(protocol.encode({ type: MessageType.Ping })); // '{"type":6}\x1e'
 * ```
 */
export class JsonHubProtocol implements HubProtocol {
  /** `"json"`. */
  readonly name = "json";
  /** `1`. */
  readonly version = 1;
  /** `"Text"`. */
  readonly transferFormat: TransferFormat = "Text";

  /**
   * Creates a decoder that splits records, buffers a record cut across frames, and validates
   * each message.
   *
   * @param options Size limit and logger.
   * @returns A fresh decoder.
   */
  createDecoder(options: DecoderOptions): HubMessageDecoder {
    return new JsonDecoder(options);
  }

  /**
   * Encodes a message as JSON plus the record separator.
   *
   * @param message The message.
   * @returns The record.
   */
  encode(message: HubMessage): string {
    return JSON.stringify(message) + RECORD_SEPARATOR;
  }
}

class JsonDecoder implements HubMessageDecoder {
  readonly #max: number;
  readonly #logger: Logger;
  // A record cut across frames, kept as its pieces and joined once its separator arrives: SSE
  // and Long Polling cut a large message into many frames, and joining or rescanning it on
  // every frame would be quadratic in its size.
  #pieces: string[] | undefined;
  #pending = 0;
  #utf8: TextDecoder | undefined;

  constructor(options: DecoderOptions) {
    this.#max = options.maxMessageSize;
    this.#logger = options.logger;
  }

  decode(frame: string | Uint8Array): HubMessage[] {
    const text = typeof frame === "string" ? frame : this.#decodeUtf8(frame);
    const messages: HubMessage[] = [];
    // The rare case (a record cut across frames) stays out of this loop, the hot path.
    let start = this.#pending > 0 ? this.#finishPartial(text, messages) : 0;
    if (start === -1) return messages;
    let end = text.indexOf(RECORD_SEPARATOR, start);
    while (end !== -1) {
      if (end - start > this.#max) this.#tooLarge(end - start);
      const message = readHotRecord(text, start, end) ??
        parseRecord(text.slice(start, end), this.#logger);
      if (message !== undefined) messages.push(message);
      start = end + 1;
      end = text.indexOf(RECORD_SEPARATOR, start);
    }
    if (start < text.length) this.#hold(start === 0 ? text : text.slice(start));
    return messages;
  }

  /**
   * Completes the held record with the start of `text`; returns where the rest of `text`
   * begins, or -1 when `text` holds no separator (it was held too).
   */
  #finishPartial(text: string, messages: HubMessage[]): number {
    const end = text.indexOf(RECORD_SEPARATOR);
    if (end === -1) {
      this.#hold(text);
      return -1;
    }
    const size = this.#pending + end;
    if (size > this.#max) this.#tooLarge(size);
    this.#pieces!.push(text.slice(0, end));
    const record = this.#pieces!.join("");
    this.#pieces = undefined;
    this.#pending = 0;
    const message = readHotRecord(record, 0, size) ?? parseRecord(record, this.#logger);
    if (message !== undefined) messages.push(message);
    return end + 1;
  }

  /** Buffers the start of a record (text without a separator). */
  #hold(piece: string): void {
    if (piece.length === 0) return;
    const size = this.#pending + piece.length;
    if (size > this.#max) this.#tooLarge(size);
    (this.#pieces ??= []).push(piece);
    this.#pending = size;
  }

  #decodeUtf8(frame: Uint8Array): string {
    try {
      return (this.#utf8 ??= new TextDecoder("utf-8", { fatal: true })).decode(frame, {
        stream: true,
      });
    } catch (cause) {
      throw new ProtocolError("A JSON hub message is not valid UTF-8.", { cause });
    }
  }

  #tooLarge(size: number): never {
    this.#pieces = undefined;
    this.#pending = 0;
    throw new ProtocolError(
      `A JSON hub message of at least ${size} characters exceeds the receive limit of ${this.#max} (maxReceiveMessageSize).`,
    );
  }
}

function parseRecord(record: string, logger: Logger): HubMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(record);
  } catch (cause) {
    throw new ProtocolError(`A hub message is not valid JSON: ${preview(record)}`, { cause });
  }
  return validate(value, logger);
}

/**
 * Checks the fields the client relies on and returns the parsed object itself (no copy);
 * unknown fields stay, unknown message types are skipped.
 */
export function validate(value: unknown, logger: Logger): HubMessage | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError("A hub message must be a JSON object.");
  }
  const m = value as Record<string, unknown>;
  switch (m.type) {
    case MessageType.Invocation:
      if (m.invocationId !== undefined) requireString(m, "invocationId");
      requireString(m, "target");
      requireArray(m, "arguments");
      if (m.streamIds !== undefined) requireArray(m, "streamIds");
      break;
    case MessageType.StreamInvocation:
      requireString(m, "invocationId");
      requireString(m, "target");
      requireArray(m, "arguments");
      if (m.streamIds !== undefined) requireArray(m, "streamIds");
      break;
    case MessageType.StreamItem:
      requireString(m, "invocationId");
      if (!("item" in m)) throw new ProtocolError("A StreamItem message has no 'item'.");
      break;
    case MessageType.Completion:
      requireString(m, "invocationId");
      // Servers other than ASP.NET Core (Go's, among them) write both fields on every
      // Completion: `"error": null`, or `""` beside a result, mean success, and an error
      // beside a result wins, as with the official client; anything else is malformed.
      if (m.error === null) delete m.error;
      else if (m.error !== undefined) {
        requireString(m, "error");
        if ("result" in m) {
          if (m.error === "") delete m.error;
          else delete m.result;
        }
      }
      break;
    case MessageType.CancelInvocation:
      requireString(m, "invocationId");
      break;
    case MessageType.Ping:
      break;
    case MessageType.Close:
      if (m.error !== undefined && m.error !== null) requireString(m, "error");
      if (m.allowReconnect !== undefined && typeof m.allowReconnect !== "boolean") {
        throw new ProtocolError("A Close message has a non-boolean 'allowReconnect'.");
      }
      break;
    case MessageType.Ack:
    case MessageType.Sequence:
      if (typeof m.sequenceId !== "number") {
        throw new ProtocolError(`A message of type ${m.type} has no numeric 'sequenceId'.`);
      }
      break;
    default:
      if (typeof m.type !== "number") {
        throw new ProtocolError("A hub message has no numeric 'type'.");
      }
      logger.log(LogLevel.Debug, `Skipping a hub message of unknown type ${m.type}.`);
      return undefined;
  }
  return m as unknown as HubMessage;
}

function requireString(m: Record<string, unknown>, field: string): void {
  if (typeof m[field] !== "string") {
    throw new ProtocolError(`A message of type ${m.type} has no string '${field}'.`);
  }
}

function requireArray(m: Record<string, unknown>, field: string): void {
  if (!Array.isArray(m[field])) {
    throw new ProtocolError(`A message of type ${m.type} has no array '${field}'.`);
  }
}

function preview(text: string): string {
  return text.length > 80 ? JSON.stringify(text.slice(0, 80)) + "..." : JSON.stringify(text);
}
