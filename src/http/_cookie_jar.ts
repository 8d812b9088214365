// A cookie jar for runtimes whose fetch has none (Deno, Node, Bun). Load balancers pin a
// connection to one server with a cookie set by the negotiate response (ARRAffinity, haproxy's
// SERVERID); without a jar every later request, the WebSocket upgrade included, could land on
// a server that does not know the connection id. In a browser the browser's own jar applies.
//
// RFC 6265 section 5, minus what only a browser needs: no public suffix list (a Domain without
// a dot other than the host itself is refused instead), HttpOnly and SameSite are ignored
// (no scripts and no sites here), and Expires is read with Date.parse, which accepts the
// formats servers send.

interface Cookie {
  readonly name: string;
  readonly value: string;
  readonly domain: string;
  readonly hostOnly: boolean;
  readonly path: string;
  readonly secure: boolean;
  /** Epoch ms; `Infinity` for a session cookie. */
  readonly expires: number;
}

/** Options of a {@linkcode CookieJar}. */
export interface CookieJarOptions {
  /** The clock used for expiry, in epoch ms. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Keeps the cookies that responses set and returns the `Cookie` header of later requests,
 * following RFC 6265 (domain and host-only matching, paths, Secure, Expires and Max-Age).
 */
export class CookieJar {
  readonly #now: () => number;
  // Keyed by name, domain and path: a cookie with the same three replaces the old one and
  // keeps its place, so insertion order stays creation order (the tie-break of RFC 6265).
  // Made with the first cookie: most connections never get one, and an empty Map costs about
  // half a kilobyte per connection.
  #cookies: Map<string, Cookie> | undefined;

  /**
   * Creates an empty jar.
   *
   * @param options A clock for expiry (tests).
   */
  constructor(options: CookieJarOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * Stores the cookies of a response's `Set-Cookie` headers; an expired one (`Max-Age=0`, an
   * Expires in the past) deletes the cookie it matches.
   *
   * @param url The URL the response came from (http, https, ws or wss).
   * @param headers The response's headers.
   */
  store(url: string, headers: Headers): void {
    const lines = headers.getSetCookie();
    if (lines.length === 0) return;
    const target = parseTarget(url);
    if (target === undefined) return;
    const now = this.#now();
    for (const line of lines) {
      const cookie = parseSetCookie(line, target, now);
      if (cookie === undefined) continue;
      const key = `${cookie.name}\n${cookie.domain}\n${cookie.path}`;
      if (cookie.expires <= now) this.#cookies?.delete(key);
      else (this.#cookies ??= new Map()).set(key, cookie);
    }
  }

  /**
   * The `Cookie` header for a request to `url`, or `undefined` when no cookie applies.
   *
   * @param url The request URL; ws and wss match like http and https (WebSocket upgrade).
   */
  header(url: string): string | undefined {
    const cookies = this.#cookies;
    if (cookies === undefined || cookies.size === 0) return undefined;
    const target = parseTarget(url);
    if (target === undefined) return undefined;
    const now = this.#now();
    const matching: Cookie[] = [];
    for (const [key, cookie] of cookies) {
      if (cookie.expires <= now) {
        cookies.delete(key);
        continue;
      }
      if (
        (cookie.hostOnly
          ? target.host === cookie.domain
          : domainMatch(target.host, cookie.domain)) &&
        pathMatch(target.path, cookie.path) && (target.secure || !cookie.secure)
      ) {
        matching.push(cookie);
      }
    }
    if (matching.length === 0) return undefined;
    // Longer paths first; the stable sort keeps creation order among equal lengths.
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.map((c) => `${c.name}=${c.value}`).join("; ");
  }
}

interface Target {
  readonly host: string;
  readonly path: string;
  readonly secure: boolean;
}

function parseTarget(url: string): Target | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  // The WebSocket upgrade is an HTTP request to the same origin: ws and wss match as http
  // and https do.
  const secure = u.protocol === "https:" || u.protocol === "wss:";
  if (!secure && u.protocol !== "http:" && u.protocol !== "ws:") return undefined;
  return { host: u.hostname, path: u.pathname || "/", secure };
}

function parseSetCookie(line: string, target: Target, now: number): Cookie | undefined {
  const semicolon = line.indexOf(";");
  const pair = semicolon === -1 ? line : line.slice(0, semicolon);
  const equals = pair.indexOf("=");
  if (equals === -1) return undefined;
  const name = pair.slice(0, equals).trim();
  if (name === "") return undefined;
  const value = pair.slice(equals + 1).trim();

  let expires: number | undefined;
  let maxAge: number | undefined;
  let domain = "";
  let path = "";
  let secure = false;
  const attributes = semicolon === -1 ? [] : line.slice(semicolon + 1).split(";");
  // When an attribute repeats, the last one wins (RFC 6265 5.3 step 3).
  for (const attribute of attributes) {
    const eq = attribute.indexOf("=");
    const key = (eq === -1 ? attribute : attribute.slice(0, eq)).trim().toLowerCase();
    const v = eq === -1 ? "" : attribute.slice(eq + 1).trim();
    if (key === "expires") {
      const time = Date.parse(v);
      if (!Number.isNaN(time)) expires = time;
    } else if (key === "max-age") {
      if (/^-?\d+$/.test(v)) {
        const seconds = Number(v);
        maxAge = seconds <= 0 ? -Infinity : now + seconds * 1000;
      }
    } else if (key === "domain") {
      if (v !== "") domain = v.replace(/^\./, "").toLowerCase();
    } else if (key === "path") {
      path = v.startsWith("/") ? v : "";
    } else if (key === "secure") {
      secure = true;
    }
  }

  let hostOnly = true;
  if (domain !== "" && domain !== target.host) {
    // Without a public suffix list, a dotless Domain ("com") is refused rather than let one
    // server set cookies for a whole top-level domain.
    if (!domain.includes(".") || !domainMatch(target.host, domain)) return undefined;
    hostOnly = false;
  } else if (domain === target.host) {
    hostOnly = false;
  }
  return {
    name,
    value,
    domain: hostOnly ? target.host : domain,
    hostOnly,
    path: path || defaultPath(target.path),
    secure,
    expires: maxAge ?? expires ?? Infinity,
  };
}

function domainMatch(host: string, domain: string): boolean {
  if (host === domain) return true;
  // IP addresses match only themselves.
  if (host.startsWith("[") || /^\d+\.\d+\.\d+\.\d+$/.test(host)) return false;
  return host.endsWith("." + domain);
}

function pathMatch(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  return requestPath.startsWith(cookiePath) &&
    (cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/");
}

/** The directory of the request path (RFC 6265 5.1.4). */
function defaultPath(requestPath: string): string {
  const last = requestPath.lastIndexOf("/");
  return last <= 0 ? "/" : requestPath.slice(0, last);
}
