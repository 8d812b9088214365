// The hot messages of the MessagePack hub protocol, read straight off the frame:
//
//   94 02 80 <id> <value>                  StreamItem
//   95 03 80 <id> 03 <value>               Completion with a result
//   94 03 80 <id> 02                       Completion of a void method
//   95 03 80 <id> 01 <text>                Completion with an error
//   96 01 80 c0|<id> <target> 9n <value>*n 90    Invocation (a handler call), n ≤ 15
//
// ASP.NET Core writes exactly these when there are no headers. A value here is a scalar: nil,
// a boolean, an integer of up to 32 bits, a float, or a string of up to 255 bytes. For a stream of
// small items, building an array, a map and a message through the generic decoder is most of the
// client's work; reading by position avoids all three. Anything else (headers, a nested value, a
// 64-bit integer, a malformed byte) returns undefined, and the generic decoder reads the message
// from its first byte, so the result is always what it would have given.
import { type HubMessage, MessageType } from "../messages.ts";

const NONE = Symbol("none");
type Scalar = string | number | boolean | null | typeof NONE;

// Up to this length a string is built in JavaScript; longer ones cost less through TextDecoder.
const SHORT = 32;
const scratch = new DataView(new ArrayBuffer(8));
// The sign bit's value of a signed integer of 1, 2 or 4 bytes, by size.
const HALF = [0, 0x80, 0x8000, 0, 0x8000_0000];
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class HotReader {
  #pos = 0;
  // The last invocation id read, reused while the bytes match: a stream repeats its id.
  #lastId = "";

  read(bytes: Uint8Array, start: number, end: number): HubMessage | undefined {
    if (end - start < 4 || bytes[start + 2] !== 0x80) return undefined;
    const head = bytes[start];
    const type = bytes[start + 1];
    this.#pos = start + 3;
    if (type === MessageType.StreamItem && head === 0x94) {
      const invocationId = this.#id(bytes, end);
      if (invocationId === undefined) return undefined;
      const item = this.#scalar(bytes, end);
      if (item === NONE || this.#pos !== end) return undefined;
      return { type: MessageType.StreamItem, invocationId, item };
    }
    if (type === MessageType.Completion) {
      const invocationId = this.#id(bytes, end);
      if (invocationId === undefined || this.#pos >= end) return undefined;
      const kind = bytes[this.#pos++];
      if (head === 0x94 && kind === 2 && this.#pos === end) {
        return { type: MessageType.Completion, invocationId };
      }
      if (head !== 0x95 || (kind !== 1 && kind !== 3)) return undefined;
      const value = this.#scalar(bytes, end);
      if (value === NONE || this.#pos !== end) return undefined;
      if (kind === 3) return { type: MessageType.Completion, invocationId, result: value };
      return typeof value === "string"
        ? { type: MessageType.Completion, invocationId, error: value }
        : undefined;
    }
    if (type === MessageType.Invocation && (head === 0x96 || head === 0x95)) {
      return this.#invocation(bytes, end, head === 0x96);
    }
    return undefined;
  }

  #invocation(bytes: Uint8Array, end: number, withStreamIds: boolean): HubMessage | undefined {
    let invocationId: string | undefined;
    if (bytes[this.#pos] === 0xc0) this.#pos++;
    else if ((invocationId = this.#id(bytes, end)) === undefined) return undefined;
    const target = this.#scalar(bytes, end);
    if (typeof target !== "string" || this.#pos >= end) return undefined;
    const head = bytes[this.#pos++];
    if ((head & 0xf0) !== 0x90) return undefined;
    const count = head & 0x0f;
    const args: unknown[] = [];
    for (let i = 0; i < count; i++) {
      const value = this.#scalar(bytes, end);
      if (value === NONE) return undefined;
      args.push(value);
    }
    // Only an empty stream id array may end the message; stream ids go the generic way.
    if (withStreamIds ? this.#pos !== end - 1 || bytes[this.#pos] !== 0x90 : this.#pos !== end) {
      return undefined;
    }
    return invocationId === undefined
      ? { type: MessageType.Invocation, target, arguments: args }
      : { type: MessageType.Invocation, invocationId, target, arguments: args };
  }

  // A string id, reusing the previous string while the bytes are the same.
  #id(bytes: Uint8Array, end: number): string | undefined {
    const pos = this.#pos;
    const head = bytes[pos];
    if ((head & 0xe0) !== 0xa0) return undefined;
    const length = head & 0x1f;
    const from = pos + 1;
    const to = from + length;
    if (to > end) return undefined;
    this.#pos = to;
    const last = this.#lastId;
    if (last.length === length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (bytes[from + i] !== last.charCodeAt(i)) {
          same = false;
          break;
        }
      }
      if (same) return last;
    }
    const id = ascii(bytes, from, to);
    if (id !== undefined) this.#lastId = id;
    return id;
  }

  #scalar(bytes: Uint8Array, end: number): Scalar {
    const pos = this.#pos;
    if (pos >= end) return NONE;
    const head = bytes[pos];
    if (head < 0x80) {
      this.#pos = pos + 1;
      return head;
    }
    if (head >= 0xe0) {
      this.#pos = pos + 1;
      return head - 0x100;
    }
    if ((head & 0xe0) === 0xa0) return this.#string(bytes, pos + 1, head & 0x1f, end);
    switch (head) {
      case 0xc0:
        this.#pos = pos + 1;
        return null;
      case 0xc2:
        this.#pos = pos + 1;
        return false;
      case 0xc3:
        this.#pos = pos + 1;
        return true;
      case 0xd9:
        return pos + 1 < end ? this.#string(bytes, pos + 2, bytes[pos + 1], end) : NONE;
      case 0xca:
      case 0xcb:
        return this.#float(bytes, pos, head === 0xca ? 4 : 8, end);
    }
    // uint 8/16/32 (0xcc–0xce) and int 8/16/32 (0xd0–0xd2), big-endian, read by one loop so that
    // every width shares its code (and V8's feedback: a width first seen late costs no
    // deoptimization); 64-bit integers (0xcf, 0xd3) go the generic way.
    if (head < 0xcc || head > 0xd2 || head === 0xcf) return NONE;
    const size = 1 << ((head - 0xcc) & 3);
    const to = pos + 1 + size;
    if (to > end) return NONE;
    let value = bytes[pos + 1];
    for (let i = pos + 2; i < to; i++) value = value * 256 + bytes[i];
    if (head >= 0xd0 && value >= HALF[size]) value -= 2 * HALF[size];
    this.#pos = to;
    return value;
  }

  #float(bytes: Uint8Array, pos: number, size: number, end: number): Scalar {
    const to = pos + 1 + size;
    if (to > end) return NONE;
    for (let i = 0; i < size; i++) scratch.setUint8(i, bytes[pos + 1 + i]);
    this.#pos = to;
    return size === 4 ? scratch.getFloat32(0) : scratch.getFloat64(0);
  }

  #string(bytes: Uint8Array, from: number, length: number, end: number): Scalar {
    const to = from + length;
    if (to > end) return NONE;
    this.#pos = to;
    if (length <= SHORT) {
      const text = ascii(bytes, from, to);
      if (text !== undefined) return text;
    }
    try {
      return utf8.decode(bytes.subarray(from, to));
    } catch {
      // Not valid UTF-8: the generic decoder decides what it means.
      return NONE;
    }
  }
}

function ascii(bytes: Uint8Array, from: number, to: number): string | undefined {
  let text = "";
  for (let i = from; i < to; i++) {
    const c = bytes[i];
    if (c > 0x7f) return undefined;
    text += String.fromCharCode(c);
  }
  return text;
}
