using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace InteropServer;

/// <summary>
/// Azure SignalR Service's negotiate redirect, played by two processes of this server.
///
/// The service (`INTEROP_AZURE_ROLE=service`) serves <see cref="AzureClientHub"/> at `/client`,
/// as Azure does, for clients that bring a token it can verify. The app
/// (`INTEROP_AZURE_SERVICE=&lt;the service's base URL&gt;`) answers `POST /azure-app/negotiate`
/// (and `/azure-app-v/negotiate`, whose redirect URL has `negotiateVersion=1` in it, as some
/// Azure SDK versions write) with `{ url, accessToken }`: the service's client URL with the hub,
/// `asrs.op` and a fresh `asrs_request_id`, and a token for that request id alone.
///
/// Tokens are `svc.&lt;request id&gt;.&lt;HMAC-SHA256 of hub and request id&gt;` under the key both
/// processes get in `INTEROP_AZURE_KEY`: as with Azure's access key, the app issues them without
/// asking the service, and the service verifies them without having seen them. A token is good
/// only with the hub and request id it was issued for, so a client that drops the redirect's
/// query, or reuses an old token with a new request id, is refused (401).
///
/// The redirect URL keeps the app request's `case` parameter, so that the service logs the
/// same case's requests (Transports.UseRequestLog) and a test reads both logs.
/// </summary>
public static class Azure
{
    /// <summary>The hub name the app redirects to (Azure's `hub=` query parameter).</summary>
    public const string HubName = "chat";

    /// <summary>The only token the app's negotiate accepts (`Authorization: Bearer`).</summary>
    public const string AppToken = "app-token";

    /// <summary>One redirect the app answered: what a test compares the service's log with.</summary>
    public sealed record Issued(string RequestId, string AccessToken, string Url);

    /// <summary>The redirects the app answered, by the negotiate's `case` parameter.</summary>
    private static readonly ConcurrentDictionary<string, List<Issued>> IssuedByCase = new();

    /// <summary>Maps the app's or the service's endpoints, as the environment says.</summary>
    public static WebApplication MapAzureRoles(this WebApplication app)
    {
        if (Environment.GetEnvironmentVariable("INTEROP_AZURE_ROLE") == "service")
        {
            Key(); // a service without a key fails at startup, not on the first client
            app.MapHub<AzureClientHub>("/client");
        }
        var service = Environment.GetEnvironmentVariable("INTEROP_AZURE_SERVICE");
        if (!string.IsNullOrEmpty(service))
        {
            Key();
            var serviceUrl = service.TrimEnd('/');
            app.MapPost("/azure-app/negotiate", (HttpContext ctx) => Negotiate(ctx, serviceUrl, false));
            app.MapPost("/azure-app-v/negotiate", (HttpContext ctx) => Negotiate(ctx, serviceUrl, true));
            // `GET /azure-app/issued?name=<case>`: the redirects answered for a case, in order
            // (not `case=`, which would log this request among the case's).
            app.MapGet("/azure-app/issued", (string name) =>
            {
                if (!IssuedByCase.TryGetValue(name, out var list)) return Results.Json(Array.Empty<Issued>());
                lock (list) return Results.Json(list.ToArray());
            });
        }
        return app;
    }

    /// <summary>
    /// The app's negotiate: the app's own token is required (as an app's [Authorize] hub would
    /// require its users' tokens), then a redirect to the service with a new request id and a
    /// token for it.
    /// </summary>
    private static IResult Negotiate(HttpContext ctx, string serviceUrl, bool withVersion)
    {
        if (ctx.Request.Headers.Authorization.ToString() != "Bearer " + AppToken)
        {
            ctx.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.StatusCode(StatusCodes.Status401Unauthorized);
        }
        var requestId = Guid.NewGuid().ToString("N");
        var url = $"{serviceUrl}/client/?hub={HubName}&asrs.op=%2F{HubName}" +
            (withVersion ? "&negotiateVersion=1" : "") + $"&asrs_request_id={requestId}";
        var name = ctx.Request.Query["case"].ToString();
        if (name.Length > 0) url += "&case=" + Uri.EscapeDataString(name);
        var issued = new Issued(requestId, IssueToken(HubName, requestId), url);
        if (name.Length > 0)
        {
            var list = IssuedByCase.GetOrAdd(name, _ => []);
            lock (list) list.Add(issued);
        }
        return Results.Json(new { url, accessToken = issued.AccessToken });
    }

    private static byte[] Key()
    {
        var key = Environment.GetEnvironmentVariable("INTEROP_AZURE_KEY");
        if (string.IsNullOrEmpty(key))
        {
            throw new InvalidOperationException("INTEROP_AZURE_KEY is required by the Azure roles.");
        }
        return Encoding.UTF8.GetBytes(key);
    }

    private static byte[] Mac(string hub, string requestId) =>
        HMACSHA256.HashData(Key(), Encoding.UTF8.GetBytes(hub + "\n" + requestId));

    /// <summary>A service token for one hub and request id.</summary>
    public static string IssueToken(string hub, string requestId) =>
        $"svc.{requestId}.{Base64UrlEncode(Mac(hub, requestId))}";

    /// <summary>Whether `token` was issued for this hub and request id.</summary>
    public static bool IsValid(string token, string hub, string requestId)
    {
        var parts = token.Split('.');
        if (parts.Length != 3 || parts[0] != "svc" || parts[1] != requestId) return false;
        byte[] mac;
        try
        {
            mac = Base64UrlDecode(parts[2]);
        }
        catch (FormatException)
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(mac, Mac(hub, requestId));
    }

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] Base64UrlDecode(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s + new string('=', (4 - s.Length % 4) % 4));
    }
}

/// <summary>
/// The service's hub at `/client`: <see cref="TestHub"/>, for clients that bring a service token
/// (<see cref="AzureServiceAuthHandler"/>). Which token a connection used is kept in its user's
/// claims, for a test to ask.
/// </summary>
[Authorize(AuthenticationSchemes = AzureServiceAuthHandler.SchemeName)]
public class AzureClientHub : TestHub
{
    /// <summary>The service token this connection was accepted with.</summary>
    public string? GetServiceToken() => Context.User?.FindFirst(AzureServiceAuthHandler.TokenClaim)?.Value;

    /// <summary>The `asrs_request_id` this connection was accepted with.</summary>
    public string? GetRequestId() => Context.User?.FindFirst(AzureServiceAuthHandler.RequestIdClaim)?.Value;
}

/// <summary>
/// The service's bearer tokens: `Authorization: Bearer` or `?access_token=` (a browser's
/// WebSocket), valid for the request's `hub` and `asrs_request_id` query parameters
/// (<see cref="Azure.IsValid"/>). Anything else, the app's token included, fails: 401.
/// </summary>
public sealed class AzureServiceAuthHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "AzureService";
    public const string TokenClaim = "asrs.token";
    public const string RequestIdClaim = "asrs.request_id";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = BearerToken.Of(Request);
        if (token is null) return Task.FromResult(AuthenticateResult.NoResult());

        var hub = Request.Query["hub"].ToString();
        var requestId = Request.Query["asrs_request_id"].ToString();
        if (!Azure.IsValid(token, hub, requestId))
        {
            return Task.FromResult(AuthenticateResult.Fail("not a token of this service for this hub and request id"));
        }
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.Name, "azure-client"),
                new Claim(ClaimTypes.NameIdentifier, "azure-client"),
                new Claim(TokenClaim, token),
                new Claim(RequestIdClaim, requestId),
            ],
            SchemeName);
        return Task.FromResult(AuthenticateResult.Success(
            new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}
