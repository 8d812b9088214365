// CookieJar: RFC 6265 matching (host-only and domain cookies, paths, Secure, expiry,
// replacement) for runtimes without a browser jar; ws and wss URLs match like http and https.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { CookieJar } from "../../src/http/_cookie_jar.ts";
import { isBrowser } from "../../src/http/_http_client.ts";

function setCookies(...lines: string[]): Headers {
  const headers = new Headers();
  for (const line of lines) headers.append("Set-Cookie", line);
  return headers;
}

test("CookieJar: no cookies, no header", () => {
  const jar = new CookieJar();
  assert.equal(jar.header("http://h/hub"), undefined);
  jar.store("http://h/hub/negotiate", new Headers({ "Content-Type": "application/json" }));
  assert.equal(jar.header("http://h/hub"), undefined);
});

test("CookieJar: an affinity cookie from negotiate goes back on later requests and the WebSocket", () => {
  const jar = new CookieJar();
  jar.store(
    "http://lb.example/hub/negotiate?negotiateVersion=1",
    setCookies("ARRAffinity=abc123; Path=/; HttpOnly", "SERVERID=s1; path=/"),
  );
  assert.equal(jar.header("http://lb.example/hub?id=x"), "ARRAffinity=abc123; SERVERID=s1");
  assert.equal(jar.header("ws://lb.example/hub?id=x"), "ARRAffinity=abc123; SERVERID=s1");
  assert.equal(jar.header("http://other.example/hub"), undefined);
});

test("CookieJar: a host-only cookie matches its host only; a Domain cookie its subdomains too", () => {
  const jar = new CookieJar();
  jar.store(
    "https://a.example.com/",
    setCookies("host=1", "dom=2; Domain=example.com", "dot=3; Domain=.EXAMPLE.com"),
  );
  assert.equal(jar.header("https://a.example.com/"), "host=1; dom=2; dot=3");
  assert.equal(jar.header("https://b.example.com/"), "dom=2; dot=3");
  assert.equal(jar.header("https://example.com/"), "dom=2; dot=3");
  assert.equal(jar.header("https://x.a.example.com/"), "dom=2; dot=3");
  assert.equal(jar.header("https://notexample.com/"), undefined);
});

test("CookieJar: a Domain the host is not in, a dotless Domain and IP subdomains are refused", () => {
  const jar = new CookieJar();
  jar.store("http://a.example.com/", setCookies("x=1; Domain=other.com", "y=2; Domain=com"));
  jar.store("http://b.example.com/", setCookies("z=3; Domain=a.example.com"));
  assert.equal(jar.header("http://a.example.com/"), undefined);
  assert.equal(jar.header("http://other.com/"), undefined);
  jar.store("http://10.0.0.1/", setCookies("ip=1; Domain=0.0.1", "same=2; Domain=10.0.0.1"));
  assert.equal(jar.header("http://10.0.0.1/"), "same=2");
  // A dotless host may name itself.
  jar.store("http://localhost:5000/", setCookies("local=1; Domain=localhost"));
  assert.equal(jar.header("http://localhost:5001/"), "local=1");
});

test("CookieJar: Path matches the path and below it, at a slash", () => {
  const jar = new CookieJar();
  jar.store("http://h/", setCookies("p=1; Path=/hub", "q=2; Path=/hub/"));
  assert.equal(jar.header("http://h/hub"), "p=1");
  assert.equal(jar.header("http://h/hub/negotiate"), "q=2; p=1", "longer path first");
  assert.equal(jar.header("http://h/hubx"), undefined);
  assert.equal(jar.header("http://h/"), undefined);
});

test("CookieJar: without Path the default is the directory of the request path", () => {
  const jar = new CookieJar();
  jar.store("http://h/app/hub/negotiate?negotiateVersion=1", setCookies("d=1", "e=2; Path=rel"));
  assert.equal(jar.header("http://h/app/hub?id=1"), "d=1; e=2");
  assert.equal(jar.header("http://h/app/hubs"), undefined);
  jar.store("http://h/negotiate", setCookies("root=1"));
  assert.equal(jar.header("http://h/anything"), "root=1");
});

test("CookieJar: Secure cookies go to https and wss only", () => {
  const jar = new CookieJar();
  jar.store("https://h/hub/negotiate", setCookies("s=1; Path=/; Secure", "open=2; Path=/"));
  assert.equal(jar.header("https://h/hub"), "s=1; open=2");
  assert.equal(jar.header("wss://h/hub"), "s=1; open=2");
  assert.equal(jar.header("http://h/hub"), "open=2");
  assert.equal(jar.header("ws://h/hub"), "open=2");
});

test("CookieJar: Max-Age=0 and a past Expires delete; Max-Age expires on the clock", () => {
  let now = Date.UTC(2030, 0, 1);
  const jar = new CookieJar({ now: () => now });
  jar.store(
    "http://h/",
    setCookies("a=1", "b=2", "c=3; Max-Age=60", "d=4; Expires=Wed, 01 Jan 2031 00:00:00 GMT"),
  );
  assert.equal(jar.header("http://h/"), "a=1; b=2; c=3; d=4");
  jar.store("http://h/", setCookies("a=; Max-Age=0", "b=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
  assert.equal(jar.header("http://h/"), "c=3; d=4");
  now += 60_000;
  assert.equal(jar.header("http://h/"), "d=4", "Max-Age=60 is over after 60 s");
  // Max-Age wins over Expires, whatever their order.
  jar.store("http://h/", setCookies("e=5; Max-Age=10; Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
  jar.store("http://h/", setCookies("f=6; Max-Age=-1; Expires=Wed, 01 Jan 2031 00:00:00 GMT"));
  assert.equal(jar.header("http://h/"), "d=4; e=5");
  now = Date.UTC(2031, 0, 1);
  assert.equal(jar.header("http://h/"), undefined);
});

test("CookieJar: a cookie with the same name, domain and path replaces the old one in its place", () => {
  const jar = new CookieJar();
  jar.store("http://h/", setCookies("a=1; Path=/", "b=2; Path=/", "a=3; Path=/x"));
  jar.store("http://h/", setCookies("a=new; Path=/"));
  assert.equal(jar.header("http://h/"), "a=new; b=2");
  assert.equal(jar.header("http://h/x"), "a=3; a=new; b=2");
  // Same name on another domain is another cookie.
  jar.store("http://s.h.example/", setCookies("a=host"));
  jar.store("http://s.h.example/", setCookies("a=dom; Domain=h.example"));
  assert.equal(jar.header("http://s.h.example/"), "a=host; a=dom");
});

test("CookieJar: lines without a name or '=' are ignored; values and quotes are kept", () => {
  const jar = new CookieJar();
  jar.store("http://h/", setCookies("novalue", "=x", " spaced = v w ; Path=/", 'q="a b"'));
  assert.equal(jar.header("http://h/"), 'spaced=v w; q="a b"');
});

test("CookieJar: URLs that are not http(s) or ws(s) neither store nor get cookies", () => {
  const jar = new CookieJar();
  jar.store("file:///x", setCookies("f=1"));
  jar.store("not a url", setCookies("g=1"));
  jar.store("http://h/", setCookies("h=1"));
  assert.equal(jar.header("ftp://h/"), undefined);
  assert.equal(jar.header("not a url"), undefined);
  assert.equal(jar.header("http://h/"), "h=1");
});

test("isBrowser: false in Deno (no document, no importScripts)", () => {
  assert.equal(isBrowser(), false);
});
