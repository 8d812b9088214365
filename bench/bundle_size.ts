// `deno task bench:size`: the browser bundle of the package (`deno bundle --platform browser
// --code-splitting --minify` of mod.ts and msgpack.ts, as tools/browser/browser.ts builds it for
// the browser tests), split by when a page loads each file, against @microsoft/signalr's
// `dist/browser/signalr.min.js` (JSON and the same three transports, stateful reconnect
// included). Sizes are minified bytes and `gzip -9` bytes, each file gzipped on its own (as a
// server sends them), and the files of a row gzipped as one.
import { gzipSync } from "node:zlib";
import { bundleClient } from "../tools/browser/browser.ts";
import { OFFICIAL_SPECIFIER } from "./_official.ts";

const dir = await bundleClient(await Deno.makeTempDir({ prefix: "bundle-size-" }));
const files = new Map<string, Uint8Array>();
for await (const entry of Deno.readDir(dir)) {
  files.set(entry.name, await Deno.readFile(`${dir}/${entry.name}`));
}
await Deno.remove(dir, { recursive: true });

const text = (name: string) => new TextDecoder().decode(files.get(name));
const STATIC = /(?:from|import)\s*"\.\/([^"]+\.js)"/g;
const DYNAMIC = /import\(\s*"\.\/([^"]+\.js)"\s*\)/g;

/** A file and every file it imports statically, transitively. */
function closure(name: string, into = new Set<string>()): Set<string> {
  if (into.has(name)) return into;
  into.add(name);
  for (const [, next] of text(name).matchAll(STATIC)) closure(next, into);
  return into;
}

const core = closure("mod.js");
const rows: { what: string; names: string[] }[] = [
  { what: "core: what a page loads with `mod.js`", names: [...core] },
];
for (const name of [...files.keys()].filter((n) => core.has(n))) {
  for (const [, lazy] of text(name).matchAll(DYNAMIC)) {
    rows.push({
      what: `loaded on first use: \`${lazy.replace(/-[A-Z0-9]+\.js$/, "")}\``,
      names: [...closure(lazy)].filter((n) => !core.has(n)),
    });
  }
}
rows.push({
  what: "`./msgpack` on top of the core",
  names: [...closure("msgpack.js")].filter((n) => !core.has(n)),
});

// The official bundle, from the npm package the benchmarks use (cached by importing it).
await import(OFFICIAL_SPECIFIER);
const info = JSON.parse(
  new TextDecoder().decode(
    (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output()).stdout,
  ),
);
const version = OFFICIAL_SPECIFIER.split("@").pop()!;
const official = await Deno.readFile(
  `${info.npmCache}/registry.npmjs.org/@microsoft/signalr/${version}/dist/browser/signalr.min.js`,
);

const gz = (bytes: Uint8Array) => gzipSync(bytes, { level: 9 }).length;
const kb = (n: number) => `${(n / 1000).toFixed(1)} KB`;
const table = [
  "| bundle | files | minified | gzipped, per file | gzipped, as one |",
  "| --- | ---: | ---: | ---: | ---: |",
];
for (const { what, names } of rows) {
  const parts = names.map((n) => files.get(n)!);
  const minified = parts.reduce((sum, p) => sum + p.length, 0);
  const perFile = parts.reduce((sum, p) => sum + gz(p), 0);
  const joined = new Uint8Array(minified);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  table.push(
    `| ${what} | ${names.length} | ${kb(minified)} | ${kb(perFile)} | ${kb(gz(joined))} |`,
  );
}
table.push(
  `| \`@microsoft/signalr\` ${version} \`signalr.min.js\` | 1 | ${kb(official.length)} | ${
    kb(gz(official))
  } | ${kb(gz(official))} |`,
);
console.log(table.join("\n"));
