// Bearer tokens: from the Authorization header, or the access_token query parameter (what
// browsers use for WebSockets), checked against the hub's accessToken option.

/** The token a request carries, if any. */
export function requestToken(request: Request, url: URL): string | undefined {
  const header = request.headers.get("authorization");
  if (header) {
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match) return match[1].trim();
  }
  return url.searchParams.get("access_token") ?? undefined;
}

/** The hub's rule: one valid token, or a predicate. */
export type TokenCheck = string | ((token: string) => boolean | Promise<boolean>);

/** Whether the request may pass; always true without a rule. */
export async function authorized(
  check: TokenCheck | undefined,
  token: string | undefined,
): Promise<boolean> {
  if (check === undefined) return true;
  if (token === undefined) return false;
  return typeof check === "string" ? token === check : await check(token);
}

/** The 401 answer, with ASP.NET Core's JWT bearer challenge header. */
export function unauthorized(): Response {
  return new Response(null, { status: 401, headers: { "www-authenticate": "Bearer" } });
}
