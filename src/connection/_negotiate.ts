// Negotiate: the POST that picks a connection id, a token and the transports.
import { HttpError } from "../errors.ts";
import { followSignal } from "../_abort.ts";

/** A transport the server offers, with the frame formats it accepts. */
export interface AvailableTransport {
  readonly transport: string;
  readonly transferFormats: readonly string[];
}

/** What a negotiate answer means for the client. */
export type NegotiateResult =
  | {
    readonly kind: "connection";
    readonly connectionId: string;
    /** The secret `id=` of every later request (v1), or the connection id itself (v0). */
    readonly connectionToken: string;
    readonly negotiateVersion: number;
    readonly availableTransports: readonly AvailableTransport[];
    readonly useStatefulReconnect: boolean;
  }
  | { readonly kind: "redirect"; readonly url: string; readonly accessToken: string | undefined };

/**
 * Interprets a negotiate response body. Throws a clear `Error` for an error answer, for classic
 * ASP.NET SignalR, and for anything malformed.
 */
export function parseNegotiateResponse(body: unknown): NegotiateResult {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new Error("Negotiate failed: the response is not a JSON object.");
  }
  const r = body as Record<string, unknown>;
  if (typeof r.error === "string") throw new Error(`Negotiate failed: ${r.error}`);
  if ("ProtocolVersion" in r) {
    throw new Error(
      "Negotiate failed: the server is classic ASP.NET SignalR (its answer has 'ProtocolVersion'); " +
        "this client speaks ASP.NET Core SignalR only.",
    );
  }
  if (typeof r.url === "string") {
    if (r.accessToken !== undefined && typeof r.accessToken !== "string") {
      throw new Error("Negotiate failed: the redirect's 'accessToken' is not a string.");
    }
    return { kind: "redirect", url: r.url, accessToken: r.accessToken as string | undefined };
  }
  const version = r.negotiateVersion === undefined ? 0 : r.negotiateVersion;
  if (typeof version !== "number") {
    throw new Error("Negotiate failed: 'negotiateVersion' is not a number.");
  }
  if (typeof r.connectionId !== "string" || r.connectionId === "") {
    throw new Error("Negotiate failed: the response has no 'connectionId'.");
  }
  let token = r.connectionId;
  if (version >= 1) {
    if (typeof r.connectionToken !== "string" || r.connectionToken === "") {
      throw new Error("Negotiate failed: a version 1 response has no 'connectionToken'.");
    }
    token = r.connectionToken;
  }
  const transports = r.availableTransports ?? [];
  if (!Array.isArray(transports)) {
    throw new Error("Negotiate failed: 'availableTransports' is not an array.");
  }
  const available: AvailableTransport[] = [];
  for (const t of transports) {
    if (
      typeof t !== "object" || t === null || typeof t.transport !== "string" ||
      !Array.isArray(t.transferFormats)
    ) {
      throw new Error("Negotiate failed: an entry of 'availableTransports' is malformed.");
    }
    available.push({ transport: t.transport, transferFormats: t.transferFormats });
  }
  return {
    kind: "connection",
    connectionId: r.connectionId,
    connectionToken: token,
    negotiateVersion: version,
    availableTransports: available,
    useStatefulReconnect: r.useStatefulReconnect === true,
  };
}

/** Options of one negotiate request. */
export interface NegotiateRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly fetch: typeof fetch;
  readonly timeout: number;
  readonly signal: AbortSignal | undefined;
}

/** POSTs `{url}/negotiate` and returns the parsed JSON body; non-2xx → {@linkcode HttpError}. */
export async function requestNegotiate(request: NegotiateRequest): Promise<unknown> {
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new DOMException("The negotiate request timed out.", "TimeoutError")),
    request.timeout,
  );
  const unfollow = followSignal(abort, request.signal);
  const signal = abort.signal;
  try {
    const response = await request.fetch(request.url, {
      method: "POST",
      headers: request.headers,
      signal,
    });
    const text = await response.text();
    if (!response.ok) {
      throw new HttpError(
        `Negotiate failed: ${response.status} ${response.statusText}`.trim() +
          (text ? `: ${text.slice(0, 200)}` : ""),
        response.status,
      );
    }
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new Error(`Negotiate failed: the response is not JSON: ${text.slice(0, 80)}`, {
        cause,
      });
    }
  } finally {
    clearTimeout(timer);
    unfollow();
  }
}
