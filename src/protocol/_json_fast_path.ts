// The two hot records of the JSON hub protocol, read without parsing the whole object:
//
//   {"type":2,"invocationId":"<id>","item":<value>}     a StreamItem
//   {"type":3,"invocationId":"<id>","result":<value>}   a Completion with a result
//
// ASP.NET Core (and most servers) write exactly this shape, fields in this order. For a server
// stream of small items, JSON.parse of the whole record is most of the client's work; reading the
// fixed frame by position and only the value as JSON halves it. Anything that differs in the
// slightest (other fields, other order, whitespace, escapes in the id) returns undefined and goes
// through JSON.parse and validation as before, so the result is always what JSON.parse gives.
import { MessageType, type StreamItemMessage } from "./messages.ts";
import type { CompletionMessage } from "./messages.ts";

const HEAD = '{"type":';
const ID_KEY = ',"invocationId":"';
const ITEM_KEY = '","item":';
const RESULT_KEY = '","result":';
/** No simple value here: the caller parses the whole record. */
const NONE = Symbol("none");

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const CLOSE_BRACE = 0x7d;

/**
 * Reads `text.slice(start, end)` (one record, without its separator) if it is a StreamItem or a
 * Completion with a result in the canonical shape; otherwise returns undefined.
 */
export function readHotRecord(
  text: string,
  start: number,
  end: number,
): StreamItemMessage | CompletionMessage | undefined {
  // `{"type":2,"invocationId":"","item":0}` is the shortest match: 37 characters.
  if (end - start < 37 || text.charCodeAt(end - 1) !== CLOSE_BRACE) return undefined;
  if (!text.startsWith(HEAD, start)) return undefined;
  const type = text.charCodeAt(start + HEAD.length) - ZERO;
  if (type !== MessageType.StreamItem && type !== MessageType.Completion) return undefined;
  if (!text.startsWith(ID_KEY, start + HEAD.length + 1)) return undefined;
  const idStart = start + HEAD.length + 1 + ID_KEY.length;
  let idEnd = idStart;
  for (; idEnd < end; idEnd++) {
    const c = text.charCodeAt(idEnd);
    if (c === QUOTE) break;
    if (c === BACKSLASH || c < 0x20) return undefined;
  }
  if (idEnd === end) return undefined;
  const key = type === MessageType.StreamItem ? ITEM_KEY : RESULT_KEY;
  if (!text.startsWith(key, idEnd)) return undefined;
  const value = readValue(text, idEnd + key.length, end - 1);
  if (value === NONE) return undefined;
  const invocationId = text.slice(idStart, idEnd);
  return type === MessageType.StreamItem
    ? { type: MessageType.StreamItem, invocationId, item: value }
    : { type: MessageType.Completion, invocationId, result: value };
}

/** The JSON value in `text.slice(start, end)`, or NONE if that is not exactly one value. */
function readValue(text: string, start: number, end: number): unknown {
  if (start >= end) return NONE;
  const first = text.charCodeAt(start);
  if (first === QUOTE) {
    const value = readPlainString(text, start, end);
    if (value !== undefined) return value;
  } else if ((first >= ZERO && first <= NINE) || first === MINUS) {
    const value = readSmallInteger(text, start, end);
    if (value !== undefined) return value;
  }
  try {
    return JSON.parse(text.slice(start, end));
  } catch {
    // Not one JSON value: more fields follow, or the record is malformed. JSON.parse of the
    // whole record decides which.
    return NONE;
  }
}

/** A string literal without escapes, or undefined. */
function readPlainString(text: string, start: number, end: number): string | undefined {
  for (let i = start + 1; i < end - 1; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE || c === BACKSLASH || c < 0x20) return undefined;
  }
  if (end - start < 2 || text.charCodeAt(end - 1) !== QUOTE) return undefined;
  return text.slice(start + 1, end - 1);
}

/** An integer literal of at most 15 digits (always exact in a double), or undefined. */
function readSmallInteger(text: string, start: number, end: number): number | undefined {
  let i = start;
  const negative = text.charCodeAt(i) === MINUS;
  if (negative) i++;
  const digits = end - i;
  if (digits < 1 || digits > 15) return undefined;
  // JSON allows no leading zero: "0" alone, never "01".
  if (text.charCodeAt(i) === ZERO && digits > 1) return undefined;
  let value = 0;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) return undefined;
    value = value * 10 + (c - ZERO);
  }
  return negative ? -value : value;
}
