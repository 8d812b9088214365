// Connection tokens (`id=`) and access tokens (`access_token=`) are secrets that travel in query
// strings; every URL or runtime message that reaches a log or an error goes through here first.

// The value ends at `&`, at a fragment or at whitespace only: stopping at `)` or `"` as well
// would read better inside runtime messages such as "error sending request for url (...)", but
// `encodeURIComponent` leaves `)` and `'` as they are, so part of a token could show.
const SECRET_QUERY = /([?&](?:access_token|id)=)[^&#\s]*/gi;

/** Replaces the values of `id=` and `access_token=` query parameters in `text` with `***`. */
export function redact(text: string): string {
  return text.replace(SECRET_QUERY, "$1***");
}

/**
 * `error` with {@linkcode redact} applied to its message and stack, and to its causes': a
 * copy (same name) when anything was redacted, else `error` itself. For a runtime's error kept
 * as the `cause` of ours, whose message names the request URL ("error sending request for url
 * (...?id=...)").
 */
export function redactError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error) || depth > 8) return error;
  const message = redact(error.message);
  const stack = error.stack === undefined ? undefined : redact(error.stack);
  const cause = redactError(error.cause, depth + 1);
  if (message === error.message && stack === error.stack && cause === error.cause) return error;
  const copy = new Error(message, cause === undefined ? undefined : { cause });
  copy.name = error.name;
  copy.stack = stack;
  return copy;
}
