namespace InteropServer;

/// <summary>Azure SignalR Service's negotiate redirect, played by two processes.</summary>
public static class Azure
{
    /// <summary>Maps the app's or the service's endpoints, as the environment says.</summary>
    public static WebApplication MapAzureRoles(this WebApplication app) => app;
}
