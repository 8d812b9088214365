/**
 * The nine SignalR hub messages as a typed union: the currency between protocols and the hub
 * connection.
 *
 * @module
 */

/**
 * Message type numbers of the SignalR hub protocol.
 *
 * @example
 * ```ts
 * import { MessageType } from "@signalrcore/client";
 * console.log(MessageType.Completion); // 3
 * ```
 */
export const MessageType = {
  /** A call of a method on the peer. */
  Invocation: 1,
  /** One item of a stream (either direction). */
  StreamItem: 2,
  /** The end of a call or of a stream, with a result or an error. */
  Completion: 3,
  /** A call of a server method that streams its result. */
  StreamInvocation: 4,
  /** Asks the server to stop a call or stream. */
  CancelInvocation: 5,
  /** Keep-alive. */
  Ping: 6,
  /** The connection is closing, possibly with an error. */
  Close: 7,
  /** Stateful reconnect: everything up to a sequence id was received. */
  Ack: 8,
  /** Stateful reconnect: the sequence id of the next message, sent after reconnecting. */
  Sequence: 9,
} as const;

/**
 * A message type number.
 *
 * @example
 * ```ts
 * import { MessageType } from "@signalrcore/client";
 * const type: MessageType = MessageType.Ping;
 * ```
 */
export type MessageType = typeof MessageType[keyof typeof MessageType];

/**
 * Protocol-level headers: a string-to-string map carried by some messages.
 *
 * @example
 * ```ts
 * import type { MessageHeaders } from "@signalrcore/client";
 * const headers: MessageHeaders = { "trace-id": "abc" };
 * ```
 */
export type MessageHeaders = Record<string, string>;

/**
 * Calls a method on the peer. Without `invocationId` no answer is expected.
 *
 * @example
 * ```ts
 * import { type InvocationMessage, MessageType } from "@signalrcore/client";
 * const message: InvocationMessage = {
 *   type: MessageType.Invocation,
 *   invocationId: "0",
 *   target: "Add",
 *   arguments: [1, 2],
 * };
 * ```
 */
export interface InvocationMessage {
  /** Always {@linkcode MessageType.Invocation}. */
  readonly type: typeof MessageType.Invocation;
  /** Protocol headers, if any. */
  readonly headers?: MessageHeaders;
  /** Present when the caller wants a Completion. */
  readonly invocationId?: string;
  /** The method name. */
  readonly target: string;
  /** The arguments, without the stream arguments. */
  readonly arguments: readonly unknown[];
  /** Ids of the client-to-server streams that are arguments of this call. */
  readonly streamIds?: readonly string[];
}

/**
 * Calls a server method whose result is a stream.
 *
 * @example
 * ```ts
 * import { MessageType, type StreamInvocationMessage } from "@signalrcore/client";
 * const message: StreamInvocationMessage = {
 *   type: MessageType.StreamInvocation,
 *   invocationId: "1",
 *   target: "Counter",
 *   arguments: [10, 500],
 * };
 * ```
 */
export interface StreamInvocationMessage {
  /** Always {@linkcode MessageType.StreamInvocation}. */
  readonly type: typeof MessageType.StreamInvocation;
  /** Protocol headers, if any. */
  readonly headers?: MessageHeaders;
  /** The id of the call; required for streams. */
  readonly invocationId: string;
  /** The method name. */
  readonly target: string;
  /** The arguments, without the stream arguments. */
  readonly arguments: readonly unknown[];
  /** Ids of the client-to-server streams that are arguments of this call. */
  readonly streamIds?: readonly string[];
}

/**
 * One item of a stream: of a server stream (`invocationId` is the call's id) or of an upload
 * (`invocationId` is the stream id).
 *
 * @example
 * ```ts
 * import { MessageType, type StreamItemMessage } from "@signalrcore/client";
 * const message: StreamItemMessage = { type: MessageType.StreamItem, invocationId: "1", item: 42 };
 * ```
 */
export interface StreamItemMessage {
  /** Always {@linkcode MessageType.StreamItem}. */
  readonly type: typeof MessageType.StreamItem;
  /** Protocol headers, if any. */
  readonly headers?: MessageHeaders;
  /** The call or stream this item belongs to. */
  readonly invocationId: string;
  /** The item. */
  readonly item: unknown;
}

/**
 * Ends a call or a stream. `error` marks a failure; otherwise `result` holds the value, and a
 * missing `result` means a void method.
 *
 * @example
 * ```ts
 * import { type CompletionMessage, MessageType } from "@signalrcore/client";
 * const message: CompletionMessage = { type: MessageType.Completion, invocationId: "0", result: 3 };
 * ```
 */
export interface CompletionMessage {
  /** Always {@linkcode MessageType.Completion}. */
  readonly type: typeof MessageType.Completion;
  /** Protocol headers, if any. */
  readonly headers?: MessageHeaders;
  /** The call or stream that ended. */
  readonly invocationId: string;
  /** The error text, when the call failed. */
  readonly error?: string;
  /** The result, when there is one. */
  readonly result?: unknown;
}

/**
 * Asks the peer to stop a call or a stream.
 *
 * @example
 * ```ts
 * import { type CancelInvocationMessage, MessageType } from "@signalrcore/client";
 * const message: CancelInvocationMessage = { type: MessageType.CancelInvocation, invocationId: "1" };
 * ```
 */
export interface CancelInvocationMessage {
  /** Always {@linkcode MessageType.CancelInvocation}. */
  readonly type: typeof MessageType.CancelInvocation;
  /** Protocol headers, if any. */
  readonly headers?: MessageHeaders;
  /** The call to cancel. */
  readonly invocationId: string;
}

/**
 * Keep-alive message.
 *
 * @example
 * ```ts
 * import { MessageType, type PingMessage } from "@signalrcore/client";
 * const message: PingMessage = { type: MessageType.Ping };
 * ```
 */
export interface PingMessage {
  /** Always {@linkcode MessageType.Ping}. */
  readonly type: typeof MessageType.Ping;
}

/**
 * The sender is closing the connection. A missing `allowReconnect` means `false`.
 *
 * @example
 * ```ts
 * import { type CloseMessage, MessageType } from "@signalrcore/client";
 * const message: CloseMessage = { type: MessageType.Close, error: "Shutting down", allowReconnect: true };
 * ```
 */
export interface CloseMessage {
  /** Always {@linkcode MessageType.Close}. */
  readonly type: typeof MessageType.Close;
  /** Why the connection closes, when it is an error. */
  readonly error?: string;
  /** Whether the client may reconnect automatically. */
  readonly allowReconnect?: boolean;
}

/**
 * Stateful reconnect: the sender has received every message up to `sequenceId`.
 *
 * @example
 * ```ts
 * import { type AckMessage, MessageType } from "@signalrcore/client";
 * const message: AckMessage = { type: MessageType.Ack, sequenceId: 12 };
 * ```
 */
export interface AckMessage {
  /** Always {@linkcode MessageType.Ack}. */
  readonly type: typeof MessageType.Ack;
  /** The highest sequence id received. */
  readonly sequenceId: number;
}

/**
 * Stateful reconnect: the id of the next message the sender will send after a reconnect.
 *
 * @example
 * ```ts
 * import { MessageType, type SequenceMessage } from "@signalrcore/client";
 * const message: SequenceMessage = { type: MessageType.Sequence, sequenceId: 13 };
 * ```
 */
export interface SequenceMessage {
  /** Always {@linkcode MessageType.Sequence}. */
  readonly type: typeof MessageType.Sequence;
  /** The sequence id of the next message. */
  readonly sequenceId: number;
}

/**
 * Any hub message.
 *
 * @example Switch on the type
 * ```ts
 * import { type HubMessage, MessageType } from "@signalrcore/client";
 * function describe(message: HubMessage): string {
 *   switch (message.type) {
 *     case MessageType.Invocation:
 *       return `call ${message.target}`;
 *     case MessageType.Completion:
 *       return `completion of ${message.invocationId}`;
 *     default:
 *       return `message of type ${message.type}`;
 *   }
 * }
 * ```
 */
export type HubMessage =
  | InvocationMessage
  | StreamItemMessage
  | CompletionMessage
  | StreamInvocationMessage
  | CancelInvocationMessage
  | PingMessage
  | CloseMessage
  | AckMessage
  | SequenceMessage;
