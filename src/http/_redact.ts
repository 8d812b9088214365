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
