using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace InteropServer;

/// <summary>Hub at /authhub: negotiate without a valid token answers 401.</summary>
[Authorize]
public class AuthHub : Hub
{
    public string? WhoAmI() => Context.User?.Identity?.Name;
}

/// <summary>
/// The bearer token of a request: `Authorization: Bearer …`, else the `access_token` query
/// parameter (what a browser's WebSocket sends); null when it has neither.
/// </summary>
public static class BearerToken
{
    public static string? Of(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }
        return request.Query.TryGetValue("access_token", out var token) ? token.ToString() : null;
    }
}

/// <summary>
/// Minimal bearer-token authentication (no JwtBearer package): accepts
/// `Authorization: Bearer secret-token` or `?access_token=secret-token` (the query form is what
/// browser-style clients use for WebSockets and SSE) and signs the caller in as "interop-user".
/// </summary>
public sealed class TokenAuthHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "InteropToken";
    public const string Token = "secret-token";
    public const string UserName = "interop-user";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = BearerToken.Of(Request);

        if (token is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        if (token != Token)
        {
            return Task.FromResult(AuthenticateResult.Fail("invalid token"));
        }

        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, UserName), new Claim(ClaimTypes.NameIdentifier, UserName)],
            SchemeName);
        var ticket = new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName);
        return Task.FromResult(AuthenticateResult.Success(ticket));
    }
}

/// <summary>
/// Bearer tokens for /expiringhub: any `tok-*` token signs the caller in as "interop-user" until
/// <see cref="Transports.ExpireTokenOnNext"/> expires it; an expired token fails (401).
/// </summary>
public sealed class ExpiringTokenAuthHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ExpiringToken";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var authorization = Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer tok-", StringComparison.Ordinal))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        var token = authorization["Bearer ".Length..];
        if (Transports.IsExpired(Context, token))
        {
            return Task.FromResult(AuthenticateResult.Fail("token expired"));
        }
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.Name, TokenAuthHandler.UserName),
                new Claim(ClaimTypes.NameIdentifier, TokenAuthHandler.UserName),
            ],
            SchemeName);
        return Task.FromResult(AuthenticateResult.Success(
            new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}
