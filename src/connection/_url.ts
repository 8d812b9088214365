// URL edits that keep the query string as written: servers may sign or compare it raw (Azure
// SignalR Service's redirect URLs, signed URLs), so it is never re-serialized through
// URLSearchParams.
import { redact } from "../http/_redact.ts";

/** Appends a path segment to a URL's path, keeping its query string. */
export function appendPath(url: string, segment: string): string {
  const u = new URL(url);
  u.pathname = u.pathname.replace(/\/+$/, "") + "/" + segment;
  return u.toString();
}

/**
 * Sets a query parameter: replaces the first pair with that name (dropping later ones) or
 * appends one. Every other pair stays byte for byte as written. Throws a `TypeError` for a
 * name or value that is not a well-formed string (a lone surrogate cannot be percent-encoded).
 */
export function withQuery(url: string, name: string, value: string): string {
  const pair = `${encodeComponent(name, "name")}=${encodeComponent(value, `value of '${name}'`)}`;
  const u = new URL(url);
  const query = u.search.slice(1);
  if (query === "") {
    u.search = pair;
    return u.toString();
  }
  const pairs: string[] = [];
  let found = false;
  for (const part of query.split("&")) {
    if (nameOf(part) !== name) {
      pairs.push(part);
    } else if (!found) {
      pairs.push(pair);
      found = true;
    }
  }
  if (!found) pairs.push(pair);
  u.search = pairs.join("&");
  return u.toString();
}

/** Whether the URL's query has a parameter with this (decoded) name. */
export function hasQuery(url: string, name: string): boolean {
  const query = new URL(url).search.slice(1);
  return query !== "" && query.split("&").some((part) => nameOf(part) === name);
}

/**
 * Checks that a URL is http(s) and returns it absolute and normalized, without its fragment: a
 * fragment is never sent over HTTP, and the WebSocket constructor refuses URLs that have one. A
 * relative URL ("/chat", as `@microsoft/signalr`'s docs write it) is resolved against `base`, by
 * default the page's address where there is one (browsers, workers, Deno with `--location`).
 */
export function checkUrl(url: string, base: string | undefined = pageAddress()): string {
  let u: URL;
  try {
    u = new URL(url, base);
  } catch {
    throw new TypeError(
      `Invalid hub URL '${redact(url)}': ${
        base === undefined && URL.canParse(url, "http://localhost/")
          ? "a relative URL needs a page to resolve against, and there is none here; give an absolute http(s) URL."
          : "an absolute http(s) URL, or one relative to the page, is required."
      }`,
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new TypeError(`Invalid hub URL '${redact(url)}': the scheme must be http or https.`);
  }
  u.hash = "";
  return u.toString();
}

/** The address relative URLs resolve against: the document's base, or the global location. */
function pageAddress(): string | undefined {
  const g = globalThis as { document?: { baseURI?: string }; location?: { href?: string } };
  try {
    return g.document?.baseURI ?? g.location?.href;
  } catch {
    // Deno without --location throws on reading `location`.
    return undefined;
  }
}

function encodeComponent(text: string, what: string): string {
  if (!text.isWellFormed()) {
    throw new TypeError(`The query ${what} is not a well-formed string (it has a lone surrogate).`);
  }
  return encodeURIComponent(text);
}

function nameOf(part: string): string {
  const equals = part.indexOf("=");
  const raw = equals === -1 ? part : part.slice(0, equals);
  try {
    return decodeURIComponent(raw.replaceAll("+", " "));
  } catch {
    return raw;
  }
}
