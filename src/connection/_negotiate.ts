// Negotiate: the POST that picks a connection id, a token and the transports. Everything in its
// answer ends up in a URL, a header or a transport choice, so the answer is checked here, where
// a fault can still be blamed on negotiate, rather than failing later as a URIError from
// encodeURIComponent or a SyntaxError from the WebSocket constructor.
import { NegotiateError } from "../errors.ts";
import { type HttpClient, httpError } from "../http/_http_client.ts";
import { redact } from "../http/_redact.ts";
import { appendPath, hasQuery, withQuery } from "./_url.ts";

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
  | {
    readonly kind: "redirect";
    /** An absolute http(s) URL, its query as sent and its fragment removed. */
    readonly url: string;
    readonly accessToken: string | undefined;
  };

/** Options of {@linkcode negotiate}. */
export interface NegotiateOptions {
  /** Ask for stateful reconnect (`useStatefulReconnect=true`). Default `false`. */
  readonly useStatefulReconnect?: boolean;
}

/**
 * The negotiate URL of a hub URL (or a redirect's URL): `{url}/negotiate` with the URL's own
 * query, then `negotiateVersion=1` unless the query has one already (Azure's redirect URLs
 * do) and `useStatefulReconnect=true` when asked.
 */
export function negotiateUrl(url: string, options: NegotiateOptions = {}): string {
  let target = appendPath(url, "negotiate");
  if (!hasQuery(target, "negotiateVersion")) target = withQuery(target, "negotiateVersion", "1");
  if (options.useStatefulReconnect && !hasQuery(target, "useStatefulReconnect")) {
    target = withQuery(target, "useStatefulReconnect", "true");
  }
  return target;
}

/**
 * POSTs `{url}/negotiate` through `http` (token, one retry after a 401, cookies, timeout) and
 * interprets the answer. A redirect is returned, not followed: the caller puts its token in
 * force with `http.tokens.override(...)` and negotiates again with its URL.
 *
 * Rejects with an `HttpError` for a failure status, a `NegotiateError` for an answer that
 * cannot be used or is larger than {@linkcode MAX_NEGOTIATE_BYTES} (its body is then cancelled
 * unread), `signal.reason` on abort, and the client's errors otherwise.
 */
export async function negotiate(
  http: HttpClient,
  url: string,
  signal?: AbortSignal,
  options?: NegotiateOptions,
): Promise<NegotiateResult> {
  // A negotiate answer is a few hundred bytes: a larger one is refused as it arrives, and the
  // rest of it is not read.
  const chunks: Uint8Array[] = [];
  let size = 0;
  const response = await http.stream({
    method: "POST",
    url: negotiateUrl(url, options),
    signal,
    what: "Negotiate",
  }, (chunk) => {
    size += chunk.length;
    if (size > MAX_NEGOTIATE_BYTES) {
      throw fail(`the response is larger than ${MAX_NEGOTIATE_BYTES} bytes.`);
    }
    chunks.push(chunk);
  });
  if (response.status < 200 || response.status > 299) {
    throw httpError("Negotiate", response, response.text);
  }
  // Another 2xx than 200 brings the start of its body only, in `text`.
  const text = response.status === 200 ? utf8(chunks, size) : response.text;
  return parseNegotiateResponse(parseJson(text));
}

/** The largest negotiate answer read, in bytes. */
export const MAX_NEGOTIATE_BYTES = 1 << 20;

function utf8(chunks: readonly Uint8Array[], size: number): string {
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * Interprets a negotiate response body. Throws a {@linkcode NegotiateError} for an error
 * answer, for classic ASP.NET SignalR, and for anything malformed.
 */
export function parseNegotiateResponse(body: unknown): NegotiateResult {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw fail("the response is not a JSON object.");
  }
  const r = body as Record<string, unknown>;
  if (typeof r.error === "string") throw fail(r.error);
  if ("ProtocolVersion" in r) {
    throw fail(
      "the server is classic ASP.NET SignalR (its answer has 'ProtocolVersion'); " +
        "this client speaks ASP.NET Core SignalR only.",
    );
  }
  if (r.url !== undefined) return parseRedirect(r.url, r.accessToken);

  const version = r.negotiateVersion === undefined ? 0 : r.negotiateVersion;
  if (typeof version !== "number") throw fail("'negotiateVersion' is not a number.");
  if (!Number.isSafeInteger(version) || version < 0) {
    throw fail(`'negotiateVersion' ${version} is not a version number.`);
  }
  if (typeof r.connectionId !== "string" || r.connectionId === "") {
    throw fail("the response has no 'connectionId'.");
  }
  checkWellFormed(r.connectionId, "connectionId");
  let token = r.connectionId;
  if (version >= 1) {
    if (typeof r.connectionToken !== "string" || r.connectionToken === "") {
      throw fail("a version 1 response has no 'connectionToken'.");
    }
    checkWellFormed(r.connectionToken, "connectionToken");
    token = r.connectionToken;
  }
  if (r.useStatefulReconnect !== undefined && typeof r.useStatefulReconnect !== "boolean") {
    throw fail("'useStatefulReconnect' is not a boolean.");
  }
  return {
    kind: "connection",
    connectionId: r.connectionId,
    connectionToken: token,
    negotiateVersion: version,
    availableTransports: parseTransports(r.availableTransports ?? []),
    useStatefulReconnect: r.useStatefulReconnect === true,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw fail(`the response is not JSON: ${text.slice(0, 80)}`, cause);
  }
}

function parseRedirect(url: unknown, accessToken: unknown): NegotiateResult {
  if (typeof url !== "string") throw fail("the redirect's 'url' is not a string.");
  if (accessToken !== undefined) {
    if (typeof accessToken !== "string") {
      throw fail("the redirect's 'accessToken' is not a string.");
    }
    checkWellFormed(accessToken, "accessToken");
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw fail(`the redirect URL '${redact(url)}' is not a valid absolute URL.`, cause);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw fail(`the redirect URL '${redact(url)}' is not http or https.`);
  }
  // Dropped rather than refused: a fragment is never sent over HTTP, so it means nothing to
  // the server, and only the WebSocket constructor would object to it (with a SyntaxError).
  u.hash = "";
  return { kind: "redirect", url: u.toString(), accessToken };
}

function parseTransports(transports: unknown): AvailableTransport[] {
  if (!Array.isArray(transports)) throw fail("'availableTransports' is not an array.");
  const available: AvailableTransport[] = [];
  for (const t of transports) {
    if (
      typeof t !== "object" || t === null || typeof t.transport !== "string" ||
      !Array.isArray(t.transferFormats)
    ) {
      throw fail("an entry of 'availableTransports' is malformed.");
    }
    if (!t.transferFormats.every((format: unknown) => typeof format === "string")) {
      throw fail(
        `an entry of 'availableTransports' is malformed: the 'transferFormats' of ${
          JSON.stringify(t.transport)
        } are not all strings.`,
      );
    }
    available.push({ transport: t.transport, transferFormats: t.transferFormats });
  }
  return available;
}

// A lone surrogate cannot be percent-encoded (encodeURIComponent throws a URIError) nor sent
// in a header.
function checkWellFormed(value: string, field: string): void {
  if (!value.isWellFormed()) {
    throw fail(`'${field}' is not a well-formed string (it has a lone surrogate).`);
  }
}

function fail(reason: string, cause?: unknown): NegotiateError {
  return new NegotiateError(
    `Negotiate failed: ${reason}`,
    cause === undefined ? undefined : { cause },
  );
}
