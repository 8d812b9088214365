/**
 * The contract between a hub protocol (JSON, MessagePack) and the connection that uses it.
 *
 * @module
 */
import type { Logger } from "../logger.ts";
import type { HubMessage } from "./messages.ts";

/**
 * How a protocol's frames travel: `"Text"` (WebSocket text frames, SSE) or `"Binary"`.
 *
 * @example
 * ```ts
 * import type { TransferFormat } from "@signalrcore/client";
 * const format: TransferFormat = "Text";
 * ```
 */
export type TransferFormat = "Text" | "Binary";

/**
 * Options for {@linkcode HubProtocol.createDecoder}.
 *
 * @example
 * ```ts
 * import { type DecoderOptions, LogLevel } from "@signalrcore/client";
 * const options: DecoderOptions = { maxMessageSize: 1 << 20, logger: { log: () => {} } };
 * ```
 */
export interface DecoderOptions {
  /**
   * The largest single message accepted: bytes for binary protocols, characters (UTF-16 code
   * units) for JSON, whatever the frame type.
   */
  readonly maxMessageSize: number;
  /** Where skipped messages are reported (at debug level). */
  readonly logger: Logger;
}

/**
 * Turns the frames of one connection into hub messages. A decoder is stateful: it keeps a
 * message that was split across frames until the rest arrives.
 *
 * @example
 * ```ts
 * import { JsonHubProtocol } from "@signalrcore/client";
 * const decoder = new JsonHubProtocol().createDecoder({ maxMessageSize: 1024, logger: { log() {} } });
 * decoder.decode('{"type":6}\x1e{"ty');
 * console.log(decoder.decode('pe":6}\x1e').length); // 1
 * ```
 */
export interface HubMessageDecoder {
  /**
   * Decodes one transport frame.
   *
   * @param frame The frame: a string for text transports, bytes otherwise.
   * @returns The messages completed by this frame, in order. Unknown message types are skipped.
   * @throws {ProtocolError} When the data is malformed or a message exceeds the size limit.
   */
  decode(frame: string | Uint8Array): HubMessage[];
}

/**
 * A SignalR hub protocol: its handshake name and version, how it frames, and how it encodes.
 *
 * @example Use the JSON protocol explicitly
 * ```ts
 * import { HubConnectionBuilder, JsonHubProtocol } from "@signalrcore/client";
 * new HubConnectionBuilder().withUrl("http://localhost:5000/hub").withHubProtocol(new JsonHubProtocol());
 * ```
 */
export interface HubProtocol {
  /** The name sent in the handshake (`"json"`, `"messagepack"`). */
  readonly name: string;
  /** The protocol version sent in the handshake. */
  readonly version: number;
  /** The frame format this protocol needs from the transport. */
  readonly transferFormat: TransferFormat;
  /**
   * Creates a decoder for one connection.
   *
   * @param options Size limit and logger.
   * @returns A fresh decoder.
   */
  createDecoder(options: DecoderOptions): HubMessageDecoder;
  /**
   * Encodes one message as a complete frame (with its separator or length prefix).
   *
   * @param message The message.
   * @returns Text for text protocols, bytes for binary ones.
   */
  encode(message: HubMessage): string | Uint8Array;
}
