#!/usr/bin/env node
// Rebuilds static/vendor/codemirror/codemirror.bundle.js: CodeMirror 6 and eemeli/yaml
// in one minified IIFE that sets window.PaasCodeMirror (see build-codemirror.entry.mjs).
//
// Why a bundle: CodeMirror 6 ships ES modules only, and the portal serves plain scripts
// from its own origin (closed networks, strict CSP, no npm at run time). Run by hand
// when upgrading, with Node.js and npm; CI never runs it:
//   node scripts/build-codemirror.mjs
// Pinned versions live in build-codemirror.package.json (+ its lock file); after an
// upgrade update static/vendor/README.md and commit the bundle.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dest = join(here, "..", "static", "vendor", "codemirror");
const work = mkdtempSync(join(tmpdir(), "cm-build-"));
try {
  copyFileSync(join(here, "build-codemirror.package.json"), join(work, "package.json"));
  try {
    copyFileSync(join(here, "build-codemirror.package-lock.json"), join(work, "package-lock.json"));
  } catch { /* first build: npm writes the lock file, copied back below */ }
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: work, stdio: "inherit" });
  copyFileSync(join(work, "package-lock.json"), join(here, "build-codemirror.package-lock.json"));
  copyFileSync(join(here, "build-codemirror.entry.mjs"), join(work, "entry.mjs"));

  const esbuild = createRequire(join(work, "package.json"))("esbuild");
  mkdirSync(dest, { recursive: true });
  await esbuild.build({
    entryPoints: [join(work, "entry.mjs")],
    bundle: true,
    minify: true,
    format: "iife",
    globalName: "PaasCodeMirror",
    target: ["es2020"],
    legalComments: "none", // the licences sit beside the bundle, in LICENSES.txt
    outfile: join(dest, "codemirror.bundle.js"),
  });

  // One file with every bundled package's name, version and licence text.
  const nm = join(work, "node_modules");
  const packages = [];
  for (const entry of readdirSync(nm)) {
    if (entry.startsWith(".")) continue;
    const names = entry.startsWith("@") ? readdirSync(join(nm, entry)).map((n) => `${entry}/${n}`) : [entry];
    packages.push(...names);
  }
  const texts = [];
  for (const name of packages.sort()) {
    if (name === "esbuild" || name.startsWith("@esbuild/")) continue; // build tool, not shipped
    const dir = join(nm, name);
    const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const text = file ? readFileSync(join(dir, file), "utf8").trim() : `License: ${meta.license}`;
    texts.push(`${name} ${meta.version} (${meta.license})\n${"-".repeat(60)}\n${text}\n`);
  }
  writeFileSync(join(dest, "LICENSES.txt"), texts.join("\n\n"));
  console.log(`wrote ${dest}/codemirror.bundle.js and LICENSES.txt (${texts.length} packages)`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
