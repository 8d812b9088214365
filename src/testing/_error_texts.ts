// The texts ASP.NET Core SignalR sends to clients (DefaultHubDispatcher, HubConnectionContext,
// HubConnectionHandler), so that tests against TestHub see what a real server says.
import { TestHubError } from "./test_hub_error.ts";

/** `ErrorMessageHelper.BuildErrorMessage`: the detail only when detailed errors are on. */
function build(message: string, error: unknown, detailed: boolean): string {
  if (!detailed) return message;
  return error instanceof Error
    ? `${message} ${error.name}: ${error.message}`
    : `${message} ${typeof error}: ${String(error)}`;
}

/** A hub method threw or rejected. */
export function invocationError(target: string, error: unknown, detailed: boolean): string {
  if (error instanceof TestHubError) return error.message;
  return build(`An unexpected error occurred invoking '${target}' on the server.`, error, detailed);
}

/** A server stream failed after it had started. */
export function streamingError(error: unknown, detailed: boolean): string {
  if (error instanceof TestHubError) return error.message;
  return build("An error occurred on the server while streaming results.", error, detailed);
}

/** The hub has no method of that name (the JSON protocol's binding failure). */
export function unknownMethod(target: string): string {
  return `Failed to invoke '${target}' due to an error on the server. HubException: Method does not exist.`;
}

/** A streaming method was called with a plain Invocation. */
export function streamingCalledWithInvoke(target: string): string {
  return `The client attempted to invoke the streaming '${target}' method with a non-streaming invocation.`;
}

/** A plain method was called with a StreamInvocation. */
export function nonStreamingCalledWithStream(target: string): string {
  return `The client attempted to invoke the non-streaming '${target}' method with a streaming invocation.`;
}

/** The number of upload streams differs from what the method declared. */
export function streamCountMismatch(target: string, sent: number, expected: number): string {
  // A HubException: its text is part of the message even without detailed errors.
  return `An unexpected error occurred invoking '${target}' on the server. HubException: Client sent ${sent} stream(s), Hub method expects ${expected}.`;
}

/** A stream method returned something that is not a stream. */
export function notAStream(name: string): string {
  return `The value returned by the streaming method '${name}' is not a ChannelReader<> or IAsyncEnumerable<>.`;
}

/** Handshake: unknown protocol name. */
export function unsupportedProtocol(protocol: string): string {
  return `The protocol '${protocol}' is not supported.`;
}

/** Handshake: unsupported protocol version. */
export function unsupportedVersion(protocol: string, version: unknown): string {
  return `The server does not support version ${version} of the '${protocol}' protocol.`;
}

/** Handshake: the protocol needs a transfer format the transport cannot carry (binary on SSE). */
export function unsupportedTransferFormat(protocol: string, format: string): string {
  return `Cannot use the '${protocol}' protocol on the current transport. The transport does not support '${format}' transfer format.`;
}

/** Handshake: the request could not be parsed. */
export function handshakeFailed(error: unknown, detailed: boolean): string {
  return build("An unexpected error occurred during connection handshake.", error, detailed);
}

/** Handshake: it did not arrive within the handshake timeout. */
export const HANDSHAKE_CANCELED = "Handshake was canceled.";

/** The Close message's error when the connection ends because of an exception. */
export function closedWithError(error: unknown, detailed: boolean): string {
  return build("Connection closed with an error.", error, detailed);
}
