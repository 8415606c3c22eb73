// Builds the example project's offline Uppy bundle from the packages pinned in package-lock.json:
// demo/static/demo/uppy/uppy.min.js (the global `Uppy`), uppy.min.css and THIRD-PARTY-LICENSES.txt
// (the LICENSE file of every npm package whose code is in the bundle). Run after `npm ci`; the same
// lock file gives byte-identical output (tests/test_uppy_bundle.py checks it when npm is at hand).
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, "..", "demo", "static", "demo", "uppy");
mkdirSync(out, { recursive: true });

const common = { bundle: true, minify: true, legalComments: "none", metafile: true, logLevel: "warning" };
const js = await esbuild.build({
  ...common,
  entryPoints: [join(here, "entry.js")],
  outfile: join(out, "uppy.min.js"),
  format: "iife",
  globalName: "Uppy",
  target: "es2020",
});
const css = await esbuild.build({
  ...common,
  entryPoints: [join(here, "entry.css")],
  outfile: join(out, "uppy.min.css"),
});

// node_modules/<name> or node_modules/@scope/<name> of each bundled input, sorted by name.
const packages = new Set();
for (const input of [...Object.keys(js.metafile.inputs), ...Object.keys(css.metafile.inputs)]) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.add(match[1]);
}
// The package's LICENSE file or, for the few that ship none (mime-match), its README's licence
// section; a package with neither stops the build.
function licenceText(name, folder) {
  const files = readdirSync(folder);
  const file = files.find((f) => /^licen[cs]e/i.test(f));
  if (file) return readFileSync(join(folder, file), "utf8").trim();
  const readme = files.find((f) => /^readme/i.test(f));
  const section = readme && readFileSync(join(folder, readme), "utf8").match(/^#+ *licen[cs]e.*$[^]*/im);
  if (!section) throw new Error(`${name} ships no licence text`);
  return section[0].trim();
}

const sections = [...packages].sort().map((name) => {
  const folder = join(here, "node_modules", name);
  const { version, license } = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
  const text = licenceText(name, folder);
  return `${name}@${version} (${license})\n${"-".repeat(72)}\n${text}\n`;
});
const header =
  "The licences of the npm packages bundled into uppy.min.js and uppy.min.css, one section each,\n" +
  "collected by example_project/uppy/build.mjs from the packages pinned in its package-lock.json.\n";
writeFileSync(join(out, "THIRD-PARTY-LICENSES.txt"), [header, ...sections].join(`\n${"=".repeat(72)}\n\n`));
console.log(`${packages.size} packages bundled into ${out}`);
