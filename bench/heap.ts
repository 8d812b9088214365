/**
 * What an idle connection keeps on the heap, by kind of object:
 * `deno run -A --v8-flags=--expose-gc bench/heap.ts [--client ours|official|official-native|bare]
 * [--connections 100] [--top 40] [--url HUB]`. Opens one connection, takes a heap snapshot, opens
 * `--connections` more, takes another, and prints the objects that are new in the second (per
 * connection), grouped by type, constructor and first property names, each with its most common
 * retainer. Starts the ASP.NET Core hub unless `--url` is given. The idle-memory scenario of
 * `deno task bench` gives the totals; this tells where they come from. The snapshots' own
 * bookkeeping (some Map tables and strings) shows up for every client alike: compare clients
 * line by line rather than reading the total.
 *
 * @module
 */
import "./_frames.ts";
import { Session } from "node:inspector";
import { parseArgs } from "node:util";
import { type ClientName, CLIENTS, loadClient } from "./child.ts";
import { interopHub } from "./_launch.ts";

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[]];
      edge_fields: string[];
      edge_types: [string[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

interface HeapNode {
  type: string;
  name: string;
  id: number;
  size: number;
  /** Outgoing edges: kind, name, target node index. */
  edges: { type: string; name: string; to: number }[];
}

async function takeSnapshot(session: Session): Promise<HeapNode[]> {
  const chunks: string[] = [];
  const onChunk = (message: { params: { chunk: string } }) => chunks.push(message.params.chunk);
  session.on("HeapProfiler.addHeapSnapshotChunk", onChunk);
  try {
    await new Promise<void>((resolve, reject) =>
      session.post(
        "HeapProfiler.takeHeapSnapshot",
        {},
        (error) => error ? reject(error) : resolve(),
      )
    );
  } finally {
    session.off("HeapProfiler.addHeapSnapshotChunk", onChunk);
  }
  return parse(JSON.parse(chunks.join("")) as Snapshot);
}

function parse(snap: Snapshot): HeapNode[] {
  const { meta } = snap.snapshot;
  const nodeFields = meta.node_fields.length;
  const edgeFields = meta.edge_fields.length;
  const [nodeTypes] = meta.node_types;
  const [edgeTypes] = meta.edge_types;
  const { nodes, edges, strings } = snap;
  const out: HeapNode[] = [];
  let e = 0;
  for (let i = 0; i < nodes.length; i += nodeFields) {
    const node: HeapNode = {
      type: nodeTypes[nodes[i]],
      name: strings[nodes[i + 1]],
      id: nodes[i + 2],
      size: nodes[i + 3],
      edges: [],
    };
    for (let k = 0; k < nodes[i + 4]; k++, e += edgeFields) {
      const type = edgeTypes[edges[e]];
      const name = type === "element" || type === "hidden"
        ? String(edges[e + 1])
        : strings[edges[e + 1]];
      node.edges.push({ type, name, to: edges[e + 2] / nodeFields });
    }
    out.push(node);
  }
  return out;
}

function kind(node: HeapNode): string {
  if (node.type.includes("string")) return `(${node.type})`;
  const props = node.edges.filter((e) => e.type === "property").slice(0, 5).map((e) => e.name);
  const name = node.name.length > 30 ? node.name.slice(0, 30) + "…" : node.name;
  return `${node.type} ${name}${props.length ? ` {${props.join(",")}}` : ""}`;
}

/** The ids of a snapshot's nodes, sorted: compact, so that the parsed snapshot can go. */
function idsOf(nodes: HeapNode[]): Float64Array {
  return Float64Array.from(nodes, (n) => n.id).sort();
}

function report(old: Float64Array, after: HeapNode[], connections: number, top: number): string {
  const existed = (id: number) => {
    let lo = 0;
    let hi = old.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (old[mid] === id) return true;
      if (old[mid] < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  };
  const retainers = new Map<number, string[]>();
  for (const node of after) {
    for (const edge of node.edges) {
      if (edge.type === "weak") continue;
      const list = retainers.get(edge.to) ?? [];
      if (list.length < 3) list.push(`${node.type} ${node.name.slice(0, 25)} .${edge.name}`);
      retainers.set(edge.to, list);
    }
  }
  const groups = new Map<string, { size: number; count: number; via: Map<string, number> }>();
  after.forEach((node, i) => {
    // Compiled code and type feedback grow with warm-up, not with connections.
    if (existed(node.id) || node.type === "code") return;
    // Array buffer contents live outside the JS heap (and here are mostly the snapshot's).
    if (node.name === "system / JSArrayBufferData") return;
    const key = kind(node);
    const group = groups.get(key) ?? { size: 0, count: 0, via: new Map() };
    group.size += node.size;
    group.count++;
    const via = retainers.get(i)?.[0] ?? "?";
    group.via.set(via, (group.via.get(via) ?? 0) + 1);
    groups.set(key, group);
  });
  const rows = [...groups].sort((a, b) => b[1].size - a[1].size);
  const total = rows.reduce((sum, [, g]) => sum + g.size, 0);
  const lines = [
    `${(total / connections / 1024).toFixed(2)} KB of new objects per connection ` +
    `(bytes and objects per connection, kind, most common retainer):`,
  ];
  for (const [key, group] of rows.slice(0, top)) {
    const via = [...group.via].sort((a, b) => b[1] - a[1])[0][0];
    lines.push(
      `${(group.size / connections).toFixed(0).padStart(6)} ${
        (group.count / connections).toFixed(1).padStart(5)
      }  ${key.slice(0, 70)}  <- ${via.slice(0, 60)}`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const args = parseArgs({
    args: Deno.args,
    options: {
      client: { type: "string", default: "ours" },
      connections: { type: "string", default: "100" },
      top: { type: "string", default: "40" },
      url: { type: "string" },
    },
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  const hub = await interopHub(args.values.url);
  if (!hub) {
    console.log("heap: needs `dotnet` (or --url of a running hub).");
    return;
  }
  const { hubUrl } = hub;
  const name = args.values.client as ClientName;
  if (!CLIENTS.includes(name)) throw new Error(`unknown client ${name}; known: ${CLIENTS}`);
  const client = await loadClient(name);
  const n = Number(args.values.connections);
  const session = new Session();
  session.connect();
  const connections = [await client.connect(hubUrl, "WebSockets", "json")];
  try {
    // Only the ids of the first snapshot stay alive while the second is taken.
    const before = idsOf(await takeSnapshot(session));
    for (let i = 0; i < n; i++) {
      connections.push(await client.connect(hubUrl, "WebSockets", "json"));
    }
    const after = await takeSnapshot(session);
    console.log(`${name}, ${n} idle connections:`);
    console.log(report(before, after, n, Number(args.values.top)));
  } finally {
    await Promise.all(connections.map((c) => c.stop()));
    session.disconnect();
    await hub.close();
  }
}

if (import.meta.main) await main();
