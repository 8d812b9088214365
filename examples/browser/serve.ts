// A chat and a live counter in a browser page (index.html and app.js, no framework), using the
// client from a bundle of the package. One command serves the page, the bundle and a hub:
//
//   deno run -A examples/browser/serve.ts                       # page + embedded TestHub
//   deno run -A examples/browser/serve.ts --port 8080
//   deno run -A examples/browser/serve.ts --url http://localhost:5000/hub
//
// then open the printed address in a browser (two tabs to chat with yourself).
//
// Without --url the TestHub runs in this process and this server passes /hub on to it, so the
// page and the hub share an origin. With --url the hub is on another origin and must allow this
// page's origin through CORS, with credentials (README, "Browsers").
import { TestHub } from "@signalrcore/client/testing";
import { bundleClient, staticFiles } from "../../tools/browser/browser.ts";
import { numberOption, option, sleep } from "../_hub.ts";

const HERE = decodeURIComponent(new URL(".", import.meta.url).pathname);
const bundle = await bundleClient(`${HERE}../../.artifacts/browser/example-bundle`);
const files = staticFiles({ "/": HERE, "/bundle/": bundle });

const url = option("url");
const hub = url ? undefined : await TestHub.serve({
  methods: {
    SendMessage: (user: string, message: string, context) =>
      context.hub.send("ReceiveMessage", user, message),
    Counter: async function* (count: number, delay: number) {
      for (let i = 0; i < count; i++) {
        yield i;
        await sleep(delay);
      }
    },
  },
});

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: numberOption("port", 0),
  onListen({ port }) {
    console.log(`Open http://localhost:${port}/ (hub: ${url ?? "embedded TestHub at /hub"})`);
  },
}, (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/config.json") return Response.json({ hubUrl: url ?? "/hub" });
  if (hub && (path === "/hub" || path.startsWith("/hub/"))) return toHub(request, hub.url);
  return files(request);
});

/** Passes a request (a WebSocket too) on to the TestHub at `hubUrl`. */
async function toHub(request: Request, hubUrl: string): Promise<Response> {
  const incoming = new URL(request.url);
  const target = new URL(incoming.pathname + incoming.search, hubUrl);
  if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
    const { socket, response } = Deno.upgradeWebSocket(request);
    const upstream = new WebSocket(target.href.replace(/^http/, "ws"));
    socket.binaryType = upstream.binaryType = "arraybuffer";
    const early: (string | ArrayBuffer)[] = [];
    socket.onmessage = (e) =>
      upstream.readyState === 1 ? upstream.send(e.data) : early.push(e.data);
    upstream.onopen = () => early.splice(0).forEach((data) => upstream.send(data));
    upstream.onmessage = (e) => socket.readyState === 1 && socket.send(e.data);
    upstream.onclose = (e) =>
      socket.readyState < 2 && socket.close(e.code === 1005 ? 1000 : e.code);
    socket.onclose = () => upstream.readyState < 2 && upstream.close();
    return response;
  }
  const answer = await fetch(target, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    redirect: "manual",
  });
  return new Response(answer.body, answer);
}

// Ctrl+C: stop serving, then close the hub.
Deno.addSignalListener("SIGINT", async () => {
  await server.shutdown();
  await hub?.close();
  Deno.exit(0);
});
await server.finished;
