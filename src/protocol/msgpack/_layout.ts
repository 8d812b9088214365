// The MessagePack hub protocol writes every message as an array whose first element is its type:
//
//   [1, headers, id | nil, target, arguments, streamIds?]    Invocation
//   [2, headers, id, item]                                  StreamItem
//   [3, headers, id, 1, error] | [3, headers, id, 2] | [3, headers, id, 3, result]   Completion
//   [4, headers, id, target, arguments, streamIds?]         StreamInvocation
//   [5, headers, id]                                        CancelInvocation
//   [6]  [7, error | nil, allowReconnect?]  [8, sequenceId]  [9, sequenceId]
//
// This file turns a decoded array into a typed message (checking every field it reads) and a
// message into the array that the encoder writes. The element order and the optional trailing
// elements follow @microsoft/signalr-protocol-msgpack, so that both write the same bytes.
import { ProtocolError } from "../../errors.ts";
import { type Logger, LogLevel } from "../../logger.ts";
import { type HubMessage, type MessageHeaders, MessageType } from "../messages.ts";

/** Completion kinds: what the fourth element of a Completion says follows it. */
export const ERROR_RESULT = 1;
export const VOID_RESULT = 2;
export const NON_VOID_RESULT = 3;

const EMPTY_HEADERS: MessageHeaders = Object.freeze({});

/** The array to encode for `message`. */
export function layoutOf(message: HubMessage): unknown[] {
  switch (message.type) {
    case MessageType.Invocation:
    case MessageType.StreamInvocation: {
      const layout = [
        message.type,
        message.headers ?? EMPTY_HEADERS,
        message.invocationId ?? null,
        message.target,
        message.arguments,
      ];
      if (message.streamIds !== undefined) layout.push(message.streamIds);
      return layout;
    }
    case MessageType.StreamItem:
      return [message.type, message.headers ?? EMPTY_HEADERS, message.invocationId, message.item];
    case MessageType.Completion: {
      const headers = message.headers ?? EMPTY_HEADERS;
      if (message.error !== undefined) {
        return [message.type, headers, message.invocationId, ERROR_RESULT, message.error];
      }
      return message.result === undefined
        ? [message.type, headers, message.invocationId, VOID_RESULT]
        : [message.type, headers, message.invocationId, NON_VOID_RESULT, message.result];
    }
    case MessageType.CancelInvocation:
      return [message.type, message.headers ?? EMPTY_HEADERS, message.invocationId];
    case MessageType.Ping:
      return [message.type];
    case MessageType.Close:
      return message.allowReconnect === undefined
        ? [message.type, message.error ?? null]
        : [message.type, message.error ?? null, message.allowReconnect];
    case MessageType.Ack:
    case MessageType.Sequence:
      return [message.type, message.sequenceId];
    default:
      throw new TypeError(
        `Cannot encode a hub message of type ${(message as { type: unknown }).type}.`,
      );
  }
}

/**
 * The message a decoded array describes; undefined for an unknown type (skipped, as the
 * protocol asks, for forward compatibility).
 *
 * @throws {ProtocolError} When the array is not a hub message.
 */
export function messageOf(value: unknown, logger: Logger): HubMessage | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ProtocolError("A MessagePack hub message must be a non-empty array.");
  }
  const type = value[0];
  switch (type) {
    case MessageType.Invocation:
    case MessageType.StreamInvocation: {
      need(value, 5, type);
      const invocationId = type === MessageType.Invocation && value[2] === null
        ? undefined
        : text(value, 2, "invocation id");
      const target = text(value, 3, "target");
      const args = value[4];
      if (!Array.isArray(args)) fail(type, "its arguments are not an array");
      const streamIds = value.length > 5 ? streamIdsOf(value[5], type) : undefined;
      const headers = headersOf(value[1], type);
      return {
        type,
        ...(headers && { headers }),
        ...(invocationId !== undefined && { invocationId }),
        target,
        arguments: args,
        ...(streamIds && { streamIds }),
      } as HubMessage;
    }
    case MessageType.StreamItem: {
      need(value, 4, type);
      const headers = headersOf(value[1], type);
      const invocationId = text(value, 2, "invocation id");
      return headers
        ? { type, headers, invocationId, item: value[3] }
        : { type, invocationId, item: value[3] };
    }
    case MessageType.Completion: {
      need(value, 4, type);
      const headers = headersOf(value[1], type);
      const invocationId = text(value, 2, "invocation id");
      const base = headers ? { type, headers, invocationId } : { type, invocationId };
      switch (value[3]) {
        case ERROR_RESULT:
          need(value, 5, type);
          return { ...base, error: text(value, 4, "error") };
        case VOID_RESULT:
          return base;
        case NON_VOID_RESULT:
          need(value, 5, type);
          return { ...base, result: value[4] };
        default:
          return fail(type, `its result kind ${show(value[3])} is not 1, 2 or 3`);
      }
    }
    case MessageType.CancelInvocation: {
      need(value, 3, type);
      const headers = headersOf(value[1], type);
      const invocationId = text(value, 2, "invocation id");
      return headers ? { type, headers, invocationId } : { type, invocationId };
    }
    case MessageType.Ping:
      return { type };
    case MessageType.Close: {
      need(value, 2, type);
      const error = value[1] === null ? undefined : text(value, 1, "error");
      const allowReconnect = value.length > 2 ? value[2] : undefined;
      if (allowReconnect !== undefined && typeof allowReconnect !== "boolean") {
        fail(type, "its allowReconnect is not a boolean");
      }
      return {
        type,
        ...(error !== undefined && { error }),
        ...(allowReconnect !== undefined && { allowReconnect }),
      };
    }
    case MessageType.Ack:
    case MessageType.Sequence: {
      need(value, 2, type);
      return { type, sequenceId: sequenceIdOf(value[1], type) };
    }
    default:
      if (typeof type !== "number" || !Number.isInteger(type)) {
        throw new ProtocolError(
          `A MessagePack hub message starts with ${show(type)}, not a message type.`,
        );
      }
      logger.log(LogLevel.Debug, `Skipping a hub message of unknown type ${type}.`);
      return undefined;
  }
}

function need(value: unknown[], length: number, type: number): void {
  if (value.length < length) {
    fail(type, `it has ${value.length} elements where at least ${length} are required`);
  }
}

function text(value: unknown[], index: number, what: string): string {
  const field = value[index];
  if (typeof field !== "string") {
    fail(value[0] as number, `its ${what} is ${show(field)}, not a string`);
  }
  return field;
}

function headersOf(value: unknown, type: number): MessageHeaders | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(type, `its headers are ${show(value)}, not a map`);
  }
  let any = false;
  for (const key in value) {
    if (typeof (value as Record<string, unknown>)[key] !== "string") {
      fail(type, `its header '${key}' is not a string`);
    }
    any = true;
  }
  return any ? value as MessageHeaders : undefined;
}

function streamIdsOf(value: unknown, type: number): string[] | undefined {
  // ASP.NET Core writes an empty array (or nil) when the call has no streams.
  if (value === null) return undefined;
  if (!Array.isArray(value) || value.some((id) => typeof id !== "string")) {
    fail(type, "its stream ids are not an array of strings");
  }
  return value.length === 0 ? undefined : value;
}

function sequenceIdOf(value: unknown, type: number): number {
  if (typeof value === "bigint" && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(value);
  }
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    fail(type, `its sequence id is ${show(value)}, not a non-negative integer`);
  }
  return value;
}

const NAMES: Record<number, string> = {
  1: "Invocation",
  2: "StreamItem",
  3: "Completion",
  4: "StreamInvocation",
  5: "CancelInvocation",
  7: "Close",
  8: "Ack",
  9: "Sequence",
};

function fail(type: number, why: string): never {
  throw new ProtocolError(`A MessagePack ${NAMES[type]} message is malformed: ${why}.`);
}

function show(value: unknown): string {
  if (value === null) return "nil";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "binary data";
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === "object") return "a map";
  return `${typeof value} ${String(value)}`;
}
