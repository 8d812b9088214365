// The page's module. "@signalrcore/client" is a bundle of the package (`deno bundle`, served by
// serve.ts as /bundle/mod.js, named by the import map in index.html). The hub has two methods, as the ASP.NET Core samples do:
//   SendMessage(user, message) → Clients.All.SendAsync("ReceiveMessage", user, message)
//   Counter(count, delay)      → a stream of 0..count-1, one item every `delay` ms
import { HubConnectionBuilder } from "@signalrcore/client";

const $ = (id) => document.getElementById(id);
const config = await (await fetch("./config.json")).json();
// "/hub" when serve.ts runs the hub itself: a relative URL is resolved against the page.
const connection = new HubConnectionBuilder()
  .withUrl(config.hubUrl)
  .withAutomaticReconnect()
  .build();

function showState() {
  $("state").textContent = connection.state;
  $("state").className = connection.state;
  $("transport").textContent = connection.transport
    ? `${connection.transport} to ${connection.baseUrl}`
    : "";
}

connection.on("ReceiveMessage", (user, message) => {
  const item = document.createElement("li");
  const name = document.createElement("b");
  name.textContent = `${user}:`;
  item.append(name, document.createTextNode(message));
  $("messages").append(item);
});
connection.onreconnecting(showState);
connection.onreconnected(() => {
  showState();
  count();
});
connection.onclose(showState);

let counting;
/** Reads a fresh Counter stream into the page; a new one cancels the one before. */
function count() {
  counting?.abort();
  const controller = counting = new AbortController();
  (async () => {
    try {
      const stream = connection.stream({
        method: "Counter",
        args: [1000, 500],
        signal: controller.signal,
      });
      for await (const n of stream) $("counter").textContent = String(n);
    } catch (error) {
      if (!controller.signal.aborted) console.warn("Counter ended:", error);
    }
  })();
}

$("send").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const text = form.elements.text.value.trim();
  if (!text) return;
  await connection.invoke("SendMessage", form.elements.user.value, text);
  form.elements.text.value = "";
});
$("restart").addEventListener("click", count);

await connection.start();
showState();
count();
