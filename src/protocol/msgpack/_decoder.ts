// Frames → messages for the MessagePack hub protocol. Every message is prefixed by its length as
// a VarInt (7 bits a byte, low group first, high bit = more; 1–5 bytes, at most 2^31−1), and a
// frame may hold several messages, or a piece of one: Long Polling bodies and proxies cut
// messages anywhere, even inside the prefix.
//
// A message that lies whole in its frame is decoded in place (a view, no copy). A message cut
// across frames gets one buffer of its announced length, which the following frames fill: each
// byte is copied once and nothing already read is scanned again. The size limit is checked on
// the announced length, before anything is buffered.
import { ProtocolError } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import type { DecoderOptions, HubMessageDecoder } from "../hub_protocol.ts";
import type { HubMessage } from "../messages.ts";
import { messageOf } from "./_layout.ts";
import type { HotReader } from "./_hot_reader.ts";

/** Decodes one MessagePack value that fills `bytes` exactly. */
export type ValueDecoder = (bytes: Uint8Array) => unknown;

export class MessagePackDecoder implements HubMessageDecoder {
  readonly #max: number;
  readonly #logger: Logger;
  readonly #decodeValue: ValueDecoder;
  readonly #hot: HotReader | undefined;
  // A length prefix cut across frames: its value so far and the bit position of its next group.
  #prefix = 0;
  #shift = 0;
  // A message cut across frames, and how much of it has arrived.
  #partial: Uint8Array | undefined;
  #filled = 0;

  constructor(options: DecoderOptions, decodeValue: ValueDecoder, hot: HotReader | undefined) {
    this.#max = options.maxMessageSize;
    this.#logger = options.logger;
    this.#decodeValue = decodeValue;
    this.#hot = hot;
  }

  decode(frame: string | Uint8Array): HubMessage[] {
    if (typeof frame === "string") {
      throw new ProtocolError(
        "The MessagePack hub protocol needs binary frames, but a text frame arrived.",
      );
    }
    const messages: HubMessage[] = [];
    const n = frame.length;
    let pos = this.#shift > 0 || this.#partial ? this.#resume(frame, messages) : 0;
    while (pos < n) {
      let length = 0;
      let shift = 0;
      let i = pos;
      let byte: number;
      do {
        if (i === n) {
          this.#prefix = length;
          this.#shift = shift;
          return messages;
        }
        byte = frame[i++];
        if (shift === 28 && byte > 7) this.#badPrefix();
        length |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte & 0x80);
      const end = this.#checkLength(length) + i;
      if (end > n) {
        this.#startPartial(frame.subarray(i), length);
        return messages;
      }
      this.#read(frame, i, end, messages);
      pos = end;
    }
    return messages;
  }

  // Finishes a prefix or a message begun in an earlier frame; returns where the next one starts.
  #resume(frame: Uint8Array, messages: HubMessage[]): number {
    let i = 0;
    if (this.#shift > 0) {
      let length = this.#prefix;
      let shift = this.#shift;
      let byte: number;
      do {
        if (i === frame.length) {
          this.#prefix = length;
          this.#shift = shift;
          return i;
        }
        byte = frame[i++];
        if (shift === 28 && byte > 7) this.#badPrefix();
        length |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte & 0x80);
      this.#prefix = 0;
      this.#shift = 0;
      const end = this.#checkLength(length) + i;
      if (end <= frame.length) {
        this.#read(frame, i, end, messages);
        return end;
      }
      this.#startPartial(frame.subarray(i), length);
      return frame.length;
    }
    const partial = this.#partial!;
    const take = Math.min(partial.length - this.#filled, frame.length);
    partial.set(take === frame.length ? frame : frame.subarray(0, take), this.#filled);
    this.#filled += take;
    if (this.#filled < partial.length) return frame.length;
    this.#partial = undefined;
    this.#filled = 0;
    this.#read(partial, 0, partial.length, messages);
    return take;
  }

  #startPartial(head: Uint8Array, length: number): void {
    const partial = new Uint8Array(length);
    partial.set(head);
    this.#partial = partial;
    this.#filled = head.length;
  }

  #read(bytes: Uint8Array, start: number, end: number, messages: HubMessage[]): void {
    const message = this.#hot?.read(bytes, start, end) ?? this.#readFully(bytes, start, end);
    if (message !== undefined) messages.push(message);
  }

  #readFully(bytes: Uint8Array, start: number, end: number): HubMessage | undefined {
    let value: unknown;
    try {
      value = this.#decodeValue(bytes.subarray(start, end));
    } catch (cause) {
      throw new ProtocolError(
        `A MessagePack hub message of ${end - start} bytes could not be decoded: ${
          cause instanceof Error ? cause.message : String(cause)
        }`,
        { cause },
      );
    }
    return messageOf(value, this.#logger);
  }

  #checkLength(length: number): number {
    if (length === 0) throw new ProtocolError("A MessagePack hub message is empty (length 0).");
    if (length > this.#max) {
      throw new ProtocolError(
        `A MessagePack hub message of ${length} bytes exceeds the receive limit of ${this.#max} (maxReceiveMessageSize).`,
      );
    }
    return length;
  }

  #badPrefix(): never {
    throw new ProtocolError(
      "A MessagePack length prefix is malformed: longer than 5 bytes or above 2^31-1.",
    );
  }
}

// Encoded messages are cut from a shared slab, each a view of its own bytes: in Deno 2.9 a new
// ArrayBuffer costs about half a microsecond of CPU however small it is (its memory lives outside
// V8's heap), a view of an existing one a twentieth of that; with one buffer per message, this
// allocation was 43% of an upload's CPU. A slab is never written twice (a full one is replaced,
// not reused), so a message handed to a transport, or kept, stays as it was; a kept message
// keeps its slab alive. Messages above SLAB_MESSAGE get a buffer of their own.
const SLAB = 8 * 1024;
const SLAB_MESSAGE = 1024;
let slab = new Uint8Array(SLAB);
let slabUsed = 0;

/** `body` preceded by its length as a VarInt, in bytes of its own (a view of a shared slab). */
export function withLengthPrefix(body: Uint8Array): Uint8Array {
  let length = body.length;
  let prefix = 1;
  for (let rest = length >>> 7; rest > 0; rest >>>= 7) prefix++;
  const size = prefix + length;
  let out: Uint8Array;
  if (size > SLAB_MESSAGE) out = new Uint8Array(size);
  else {
    if (slabUsed + size > SLAB) {
      slab = new Uint8Array(SLAB);
      slabUsed = 0;
    }
    out = slab.subarray(slabUsed, slabUsed + size);
    slabUsed += size;
  }
  let i = 0;
  while (length > 0x7f) {
    out[i++] = (length & 0x7f) | 0x80;
    length >>>= 7;
  }
  out[i] = length;
  out.set(body, prefix);
  return out;
}
