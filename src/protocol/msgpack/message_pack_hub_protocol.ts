/**
 * The MessagePack hub protocol, on `@msgpack/msgpack`.
 *
 * @module
 */
import {
  Decoder,
  decodeTimestampToTimeSpec,
  Encoder,
  encodeTimestampExtension,
  EXT_TIMESTAMP,
  ExtensionCodec,
  type ExtensionCodecType,
} from "@msgpack/msgpack";
import type {
  DecoderOptions,
  HubMessageDecoder,
  HubProtocol,
  TransferFormat,
} from "../hub_protocol.ts";
import { type HubMessage, MessageType } from "../messages.ts";
import { MessagePackDecoder, withLengthPrefix } from "./_decoder.ts";
import { HotReader } from "./_hot_reader.ts";
import { layoutOf } from "./_layout.ts";

/**
 * Extension types of your own: what `@msgpack/msgpack`'s `ExtensionCodec` is (pass one of
 * those).
 *
 * @example Send and receive `Map`s as extension type 1
 * ```ts
 * import { decode, encode, ExtensionCodec } from "npm:@msgpack/msgpack@3.1.3";
 * import { MessagePackHubProtocol, type MessagePackExtensionCodec } from "@signalrcore/client/msgpack";
 *
 * const codec = new ExtensionCodec();
 * codec.register({
 *   type: 1,
 *   encode: (value) => value instanceof Map ? encode([...value]) : null,
 *   decode: (data) => new Map(decode(data) as [unknown, unknown][]),
 * });
 * const extensionCodec: MessagePackExtensionCodec = codec;
 * new MessagePackHubProtocol({ extensionCodec });
 * ```
 */
export interface MessagePackExtensionCodec {
  /** The extension value for `value`, or null when no extension type applies. */
  tryToEncode(
    value: unknown,
    context: undefined,
  ): { readonly type: number; readonly data: Uint8Array | ((pos: number) => Uint8Array) } | null;
  /** The value an extension type's data stands for. */
  decode(data: Uint8Array, extensionType: number, context: undefined): unknown;
}

/**
 * Options of {@linkcode MessagePackHubProtocol}, passed through to `@msgpack/msgpack`'s
 * `Encoder` and `Decoder` (the names and meanings are theirs, as in
 * `@microsoft/signalr-protocol-msgpack`).
 *
 * @example Receive 64-bit integers as `bigint`
 * ```ts
 * import { MessagePackHubProtocol, type MessagePackOptions } from "@signalrcore/client/msgpack";
 * const options: MessagePackOptions = { useBigInt64: true };
 * new MessagePackHubProtocol(options);
 * ```
 */
export interface MessagePackOptions {
  /**
   * Extension types of your own (both ways). The timestamp extension (`Date`) is always
   * there; an extension type nobody registered arrives as `@msgpack/msgpack`'s `ExtData`.
   */
  readonly extensionCodec?: MessagePackExtensionCodec;
  /**
   * Whether integers written in 64 bits arrive as `bigint` and `bigint` values may be sent.
   * Default `false`: such integers arrive as `number`, exact only up to 2^53, and sending a
   * `bigint` throws. ASP.NET Core writes every integer in its smallest form, so only values
   * that need 64 bits are affected.
   */
  readonly useBigInt64?: boolean;
  /** Encoder: deepest nesting of a sent value (default 100). */
  readonly maxDepth?: number;
  /** Encoder: the first size of its buffer, in bytes (default 2048). */
  readonly initialBufferSize?: number;
  /** Encoder: write map keys sorted (default `false`). */
  readonly sortKeys?: boolean;
  /** Encoder: write non-integer numbers as 32-bit floats (default `false`). */
  readonly forceFloat32?: boolean;
  /** Encoder: leave out map entries whose value is `undefined` (default `false`: nil). */
  readonly ignoreUndefined?: boolean;
  /** Encoder: write integers as floats (default `false`). */
  readonly forceIntegerToFloat?: boolean;
  /** Decoder: longest string accepted, in bytes. */
  readonly maxStrLength?: number;
  /** Decoder: longest binary value accepted, in bytes. */
  readonly maxBinLength?: number;
  /** Decoder: longest array accepted. */
  readonly maxArrayLength?: number;
  /** Decoder: largest map accepted. */
  readonly maxMapLength?: number;
  /** Decoder: longest extension value accepted, in bytes. */
  readonly maxExtLength?: number;
}

// The Ping message with its length prefix: [6].
const PING = Uint8Array.of(0x02, 0x91, MessageType.Ping);

/**
 * The MessagePack hub protocol: binary, smaller and faster than JSON. The server must enable
 * it (`AddMessagePackProtocol()` in ASP.NET Core). It needs WebSockets or Long Polling: a
 * connection that allows only Server-Sent Events is refused when it is built.
 *
 * Values map as `@msgpack/msgpack` maps them: `Date` ↔ the timestamp extension (all three
 * forms, including the 96-bit one ASP.NET Core uses for `DateTime.MinValue`), `Uint8Array` ↔
 * `bin`, maps ↔ plain objects. ASP.NET Core's MessagePack protocol keeps C# member names as
 * they are, where its JSON protocol camel-cases them: a C# `Name` arrives as `Name`, and an
 * object sent to a C# parameter must use `Name` too.
 *
 * @example Connect with MessagePack
 * ```ts ignore
 * import { HubConnectionBuilder } from "@signalrcore/client";
 * import { MessagePackHubProtocol } from "@signalrcore/client/msgpack";
 *
 * const connection = new HubConnectionBuilder()
 *   .withUrl("http://localhost:5000/chat")
 *   .withHubProtocol(new MessagePackHubProtocol())
 *   .build();
 * await connection.start();
 * // C#: public record Person(string Name, DateTime Born); public Person Oldest() => ...
 * const person = await connection.invoke<{ Name: string; Born: Date }>("Oldest");
 * console.log(person.Name, person.Born.toISOString());
 * ```
 */
export class MessagePackHubProtocol implements HubProtocol {
  /** `"messagepack"`. */
  readonly name = "messagepack";
  /** The protocol version sent in the handshake. */
  readonly version = 1;
  /** `"Binary"`. */
  readonly transferFormat: TransferFormat = "Binary";
  readonly #encoder: Encoder<undefined>;
  readonly #options: MessagePackOptions;
  // The hot path reads strings and arrays itself, so it steps aside when a limit on them is set.
  readonly #hot: boolean;

  /**
   * Creates the protocol.
   *
   * @param options Options for `@msgpack/msgpack`'s encoder and decoder.
   */
  constructor(options: MessagePackOptions = {}) {
    this.#options = { ...options };
    this.#encoder = new Encoder(library(this.#options));
    this.#hot = options.maxStrLength === undefined && options.maxArrayLength === undefined;
  }

  /**
   * Creates a decoder for one connection.
   *
   * @param options Size limit (bytes) and logger.
   * @returns A fresh decoder.
   */
  createDecoder(options: DecoderOptions): HubMessageDecoder {
    const settings = library(this.#options);
    const decoder = new Decoder({
      ...settings,
      extensionCodec: exactDates(settings.extensionCodec),
    });
    // @msgpack/msgpack allocates an array of the announced length before it reads a single
    // element: 5 bytes announcing 31 million elements cost 250 MB and 130 ms (found by fuzzing).
    // No message holds more elements than it has bytes, so each message's length is its limit
    // (the library's own option, which it reads when it meets an array header).
    const own = settings.maxArrayLength ?? Infinity;
    const limits = decoder as unknown as { maxArrayLength: number };
    const bounded = typeof limits.maxArrayLength === "number";
    return new MessagePackDecoder(
      options,
      (bytes) => {
        if (bounded) limits.maxArrayLength = Math.min(own, bytes.length);
        return decoder.decode(bytes);
      },
      this.#hot ? new HotReader() : undefined,
    );
  }

  /**
   * Encodes one message with its length prefix.
   *
   * @param message The message.
   * @returns The bytes of one frame.
   */
  encode(message: HubMessage): Uint8Array {
    if (message.type === MessageType.Ping) return PING.slice();
    return withLengthPrefix(this.#encoder.encodeSharedRef(layoutOf(message)));
  }
}

// The options as @msgpack/msgpack types them: its ExtensionCodec is what
// MessagePackExtensionCodec describes, and its own type stays out of this package's API.
function library(options: MessagePackOptions): LibraryOptions {
  return options as LibraryOptions;
}

type LibraryOptions = Omit<MessagePackOptions, "extensionCodec"> & {
  readonly extensionCodec?: ExtensionCodecType<undefined>;
};

// @msgpack/msgpack turns a timestamp into milliseconds with a sum that rounds up past the end of
// the second: DateTime.MaxValue (…59.9999999) became year 10000. Here the milliseconds are
// rounded down, as a Date holds them.
function decodeDate(data: Uint8Array): Date {
  const { sec, nsec } = decodeTimestampToTimeSpec(data);
  return new Date(sec * 1000 + Math.floor(nsec / 1e6));
}

let defaultCodec: ExtensionCodec | undefined;

function exactDates(
  codec: ExtensionCodecType<undefined> | undefined,
): ExtensionCodecType<undefined> {
  if (codec === undefined) {
    if (defaultCodec === undefined) {
      defaultCodec = new ExtensionCodec();
      defaultCodec.register({
        type: EXT_TIMESTAMP,
        encode: encodeTimestampExtension,
        decode: decodeDate,
      });
    }
    return defaultCodec;
  }
  return {
    tryToEncode: (value, context) => codec.tryToEncode(value, context),
    decode: (data, type, context) =>
      type === EXT_TIMESTAMP ? decodeDate(data) : codec.decode(data, type, context),
  };
}
