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
  #text = "";
  #bytes: Uint8Array | undefined;

  constructor(maxSize: number) {
    this.#max = maxSize;
  }

  /** Returns `undefined` while the response is incomplete. */
  feed(frame: string | Uint8Array): HandshakeResult | undefined {
    if (typeof frame === "string") {
      const text = this.#text + frame;
      const end = text.indexOf(RECORD_SEPARATOR);
      if (end === -1) {
        this.#checkSize(text.length);
        this.#text = text;
        return undefined;
      }
      parseResponse(text.slice(0, end));
      return { rest: end + 1 < text.length ? text.slice(end + 1) : undefined };
    }
    const bytes = this.#bytes ? concat(this.#bytes, frame) : frame;
    const end = bytes.indexOf(RECORD_SEPARATOR_CODE);
    if (end === -1) {
      this.#checkSize(bytes.length);
      this.#bytes = bytes;
      return undefined;
    }
    parseResponse(new TextDecoder().decode(bytes.subarray(0, end)));
    return { rest: end + 1 < bytes.length ? bytes.subarray(end + 1) : undefined };
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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
