// `deno task bench:size`: the browser bundle of the package (`deno bundle --platform browser
// --code-splitting --minify` of mod.ts and msgpack.ts, as tools/browser/browser.ts builds it for
// the browser tests), split by when a page loads each file, against @microsoft/signalr's
// `dist/browser/signalr.min.js` (JSON and the same three transports, stateful reconnect
// included). Sizes are minified bytes and `gzip -9` bytes, each file gzipped on its own (as a
// server sends them), and the files of a row gzipped as one.
import { gzipSync } from "node:zlib";
import { browserBundle, bundleClient } from "../tools/browser/browser.ts";
import { join } from "../src/transport/_batch.ts";
import { OFFICIAL_SPECIFIER } from "./_official.ts";

/** A group of bundle files a page loads together. */
export interface BundleRow {
  /** What the files are. */
  readonly what: string;
  /** Their names and contents. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/**
 * Bundles the package for browsers and groups the files: the core (`mod.js` and what it imports
 * statically), then each file the core imports dynamically (with its own static imports not in
 * the core), then `msgpack.js` on top of the core.
 */
export async function bundleRows(): Promise<BundleRow[]> {
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
  const closure = (name: string, into = new Set<string>()): Set<string> => {
    if (into.has(name)) return into;
    into.add(name);
    for (const [, next] of text(name).matchAll(STATIC)) closure(next, into);
    return into;
  };
  const row = (what: string, names: Iterable<string>): BundleRow => ({
    what,
    files: new Map([...names].map((n) => [n, files.get(n)!])),
  });

  const core = closure("mod.js");
  const rows = [row("core: what a page loads with `mod.js`", core)];
  for (const name of core) {
    for (const [, lazy] of text(name).matchAll(DYNAMIC)) {
      rows.push(row(
        `loaded on first use: \`${lazy.replace(/-[A-Z0-9]+\.js$/, "")}\``,
        [...closure(lazy)].filter((n) => !core.has(n)),
      ));
    }
  }
  rows.push(row(
    "`./msgpack` on top of the core",
    [...closure("msgpack.js")].filter((n) => !core.has(n)),
  ));
  return rows;
}

/** `gzip -9` size of `bytes`. */
export function gzipped(bytes: Uint8Array): number {
  return gzipSync(bytes, { level: 9 }).length;
}

/** The files of a row as one file. */
export function joined(row: BundleRow): Uint8Array {
  const parts = [...row.files.values()];
  const size = parts.reduce((sum, p) => sum + p.length, 0);
  return join(parts, 0, parts.length, size) as Uint8Array;
}

if (import.meta.main) await main();

async function main(): Promise<void> {
  const rows = await bundleRows();
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

  const kb = (n: number) => `${(n / 1000).toFixed(1)} KB`;
  const table = [
    "| bundle | files | minified | gzipped, per file | gzipped, as one |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    const parts = [...row.files.values()];
    const minified = parts.reduce((sum, p) => sum + p.length, 0);
    const perFile = parts.reduce((sum, p) => sum + gzipped(p), 0);
    table.push(
      `| ${row.what} | ${parts.length} | ${kb(minified)} | ${kb(perFile)} | ${
        kb(gzipped(joined(row)))
      } |`,
    );
  }
  table.push(
    `| \`@microsoft/signalr\` ${version} \`signalr.min.js\` | 1 | ${kb(official.length)} | ${
      kb(gzipped(official))
    } | ${kb(gzipped(official))} |`,
  );
  // The same client's ES modules through the same bundler and flags as ours: its `signalr.min.js`
  // is minified by terser with its `_`-prefixed properties renamed, which `deno bundle` does not do.
  const same = await bundleOfficial();
  table.push(
    `| \`@microsoft/signalr\` ${version}, its ES modules through the same \`deno bundle\` | 1 | ${
      kb(same.length)
    } | ${kb(gzipped(same))} | ${kb(gzipped(same))} |`,
  );
  console.log(table.join("\n"));
}

/** `@microsoft/signalr`'s ES modules bundled by `deno bundle` with the flags our bundle gets. */
export async function bundleOfficial(): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "bundle-official-" });
  try {
    await Deno.writeTextFile(`${dir}/entry.ts`, `export * from "${OFFICIAL_SPECIFIER}";\n`);
    await browserBundle(["--minify", "--output", `${dir}/official.js`, `${dir}/entry.ts`]);
    return await Deno.readFile(`${dir}/official.js`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
