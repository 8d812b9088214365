using Microsoft.AspNetCore.SignalR;

namespace InteropServer;

/// <summary>A service nobody registers: <see cref="UnresolvableHub"/> cannot be activated.</summary>
public class UnregisteredService
{
}

/// <summary>
/// A hub that dependency injection cannot create (its constructor needs
/// <see cref="UnregisteredService"/>): activating it for OnConnectedAsync throws, so ASP.NET Core
/// answers the handshake, then sends a Close with an error (the generic text, detailed errors
/// being off).
/// </summary>
public class UnresolvableHub(UnregisteredService service) : Hub
{
    public string Describe() => service.ToString() ?? "";
}

public static class FunctionalCookies
{
    /// <summary>The hub path whose negotiate answers set <see cref="UseFunctionalCookies"/>'s
    /// cookies.</summary>
    public const string HubPath = "/hub-cookies";

    /// <summary>
    /// On `POST /hub-cookies/negotiate`: sets `flavour=vanilla` and `size=large` (Path /), and
    /// `stale=gone` with an expiry an hour in the past, which a client must drop at once.
    /// </summary>
    public static IApplicationBuilder UseFunctionalCookies(this IApplicationBuilder app) =>
        app.Use((ctx, next) =>
        {
            if (HttpMethods.IsPost(ctx.Request.Method) &&
                ctx.Request.Path.Equals(HubPath + "/negotiate", StringComparison.Ordinal))
            {
                var options = new CookieOptions { Path = "/" };
                ctx.Response.Cookies.Append("flavour", "vanilla", options);
                ctx.Response.Cookies.Append("size", "large", options);
                ctx.Response.Cookies.Append("stale", "gone",
                    new CookieOptions { Path = "/", Expires = DateTimeOffset.UtcNow.AddHours(-1) });
            }
            return next(ctx);
        });
}
