// The handshake is JSON plus the record separator for every hub protocol, so it is parsed
// here, before any protocol decoder sees a byte.
import { HandshakeError } from "../errors.ts";
import type { HubProtocol } from "./hub_protocol.ts";
import { RECORD_SEPARATOR, RECORD_SEPARATOR_CODE } from "./_record_separator.ts";

/** The handshake request for a protocol, as text. */
export function handshakeRequest(protocol: HubProtocol, version = protocol.version): string {
  return JSON.stringify({ protocol: protocol.name, version }) + RECORD_SEPARATOR;
}

/** A parsed handshake response; `rest` is what followed it in the same frame (hub messages). */
export interface HandshakeResult {
  readonly rest: string | Uint8Array | undefined;
}

/**
 * Buffers frames until the handshake response is complete, then parses it. Throws a
 * {@linkcode HandshakeError} with the server's text when the server refused.
 */
export class HandshakeReader {
  readonly #max: number;
  // A response cut across frames, kept as its pieces (text and bytes apart) and joined once
  // its separator arrives: joining or rescanning it on every frame would be quadratic in its
  // size, and Server-Sent Events or Long Polling may deliver it in many small frames.
  #text: string[] = [];
  #textLength = 0;
  #bytes: Uint8Array[] = [];
  #bytesLength = 0;

  constructor(maxSize: number) {
    this.#max = maxSize;
  }

  /** Returns `undefined` while the response is incomplete. */
  feed(frame: string | Uint8Array): HandshakeResult | undefined {
    if (typeof frame === "string") {
      const end = frame.indexOf(RECORD_SEPARATOR);
      if (end === -1) {
        if (frame.length > 0) {
          this.#checkSize(this.#textLength + frame.length);
          this.#text.push(frame);
          this.#textLength += frame.length;
        }
        return undefined;
      }
      const head = frame.slice(0, end);
      const text = this.#text.length === 0 ? head : this.#text.join("") + head;
      this.#text = [];
      this.#textLength = 0;
      parseResponse(text);
      return { rest: end + 1 < frame.length ? frame.slice(end + 1) : undefined };
    }
    const end = frame.indexOf(RECORD_SEPARATOR_CODE);
    if (end === -1) {
      if (frame.length > 0) {
        this.#checkSize(this.#bytesLength + frame.length);
        this.#bytes.push(frame);
        this.#bytesLength += frame.length;
      }
      return undefined;
    }
    const head = frame.subarray(0, end);
    const bytes = this.#bytes.length === 0 ? head : join(this.#bytes, this.#bytesLength, head);
    this.#bytes = [];
    this.#bytesLength = 0;
    parseResponse(new TextDecoder().decode(bytes));
    return { rest: end + 1 < frame.length ? frame.subarray(end + 1) : undefined };
  }

  #checkSize(size: number): void {
    if (size > this.#max) {
      throw new HandshakeError(
        `The handshake response exceeds ${this.#max} bytes without a record separator.`,
      );
    }
  }
}

function parseResponse(text: string): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new HandshakeError(`The handshake response is not valid JSON: ${text.slice(0, 80)}`, {
      cause,
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HandshakeError("The handshake response is not a JSON object.");
  }
  const response = value as Record<string, unknown>;
  if (typeof response.error === "string") throw new HandshakeError(response.error);
  if (response.error !== undefined && response.error !== null) {
    throw new HandshakeError(`The handshake response has a non-string error: ${text}`);
  }
  if ("type" in response) {
    throw new HandshakeError("Expected a handshake response from the server, got a hub message.");
  }
}

function join(pieces: readonly Uint8Array[], length: number, last: Uint8Array): Uint8Array {
  const out = new Uint8Array(length + last.length);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  out.set(last, offset);
  return out;
}
