/** Appends a path segment to a URL's path, keeping its query string. */
export function appendPath(url: string, segment: string): string {
  const u = new URL(url);
  u.pathname = u.pathname.replace(/\/+$/, "") + "/" + segment;
  return u.toString();
}

/**
 * Sets a query parameter. The rest of the query string stays byte for byte as the user wrote
 * it: servers may sign it.
 */
export function withQuery(url: string, name: string, value: string): string {
  const u = new URL(url);
  if (u.searchParams.has(name)) {
    u.searchParams.set(name, value);
    return u.toString();
  }
  const pair = `${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
  u.search = u.search.length > 1 ? `${u.search}&${pair}` : pair;
  return u.toString();
}

/** Checks that a URL is absolute http(s) and returns it normalized. */
export function checkUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`Invalid hub URL '${url}': an absolute http(s) URL is required.`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new TypeError(`Invalid hub URL '${url}': the scheme must be http or https.`);
  }
  return u.toString();
}
