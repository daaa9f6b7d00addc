// Builds the playground's assets from the pinned npm packages into
// internal/playground/assets/, where the Go package embeds them:
//
//	npm --prefix scripts/playground ci && npm --prefix scripts/playground run build
//
// The output is one minified script, one stylesheet, the images and fonts the
// stylesheet used to inline as data: URLs (written out as files so that the
// Content-Security-Policy can say 'self' for images and fonts too), the
// bundled packages' license texts, and manifest.json, which names each file
// with its size and SHA-256 and records the exact version of every package
// that went into the bundle. File names carry a prefix of their SHA-256 so the
// server can let browsers cache them for good.
//
// The build is deterministic: running it twice over the same package-lock.json
// gives byte-identical files, so a diff in internal/playground/assets/ always
// means a change of inputs.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(here, '../../internal/playground/assets');

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

// hashedName names content by what it is: base.<first 16 hex of sha256>.ext.
const hashedName = (base, ext, data) => `${base}.${sha256(data).slice(0, 16)}.${ext}`;

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { playground: 'src/index.jsx' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome109', 'firefox115', 'safari16'],
  platform: 'browser',
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  // One file per kind: dynamic import() of CodeMirror's modes and addons is
  // inlined, so the page never loads code from anywhere at run time.
  splitting: false,
  legalComments: 'external',
  charset: 'utf8',
  metafile: true,
  write: false,
  outdir: 'out',
  logLevel: 'warning',
});

const files = new Map(); // name -> Buffer
let script;
let style;
let legal = '';

for (const out of result.outputFiles) {
  const rel = path.relative(path.join(here, 'out'), out.path);
  if (rel.endsWith('.LEGAL.txt')) {
    legal += out.text;
  } else if (rel.endsWith('.js')) {
    script = out.contents;
  } else if (rel.endsWith('.css')) {
    style = out.text;
  } else {
    throw new Error(`unexpected esbuild output ${rel}`);
  }
}
if (!script || !style) {
  throw new Error('esbuild produced no script or no stylesheet');
}

// Move every data: URL in the stylesheet into a file of its own.
const mimeExt = {
  'image/png': 'png',
  'image/svg+xml': 'svg',
  'image/gif': 'gif',
  'font/woff2': 'woff2',
  'font/woff': 'woff',
  'application/font-woff': 'woff',
  'application/font-woff2': 'woff2',
};
style = style.replace(/url\(\s*(["']?)data:([^;,]+)(;base64)?,([^"')]*)\1\s*\)/g, (_m, _q, mime, b64, payload) => {
  const ext = mimeExt[mime];
  if (!ext) {
    throw new Error(`stylesheet has a data: URL of unknown type ${mime}`);
  }
  const data = b64 ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload));
  const name = hashedName(ext === 'woff2' || ext === 'woff' ? 'font' : 'image', ext, data);
  files.set(name, data);
  return `url(${name})`;
});
if (/data:/.test(style.replace(/\/\*[\s\S]*?\*\//g, ''))) {
  throw new Error('stylesheet still has a data: URL');
}

const scriptName = hashedName('playground', 'js', script);
const styleName = hashedName('playground', 'css', style);
files.set(scriptName, Buffer.from(script));
files.set(styleName, Buffer.from(style));
// The packages that went into the bundle, with the versions installed.
const packages = {};
const pkgLicense = {};
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (!m || packages[m[1]]) continue;
  const pkg = JSON.parse(await readFile(path.join(here, 'node_modules', m[1], 'package.json'), 'utf8'));
  packages[m[1]] = pkg.version;
  pkgLicense[m[1]] = pkg.license;
}
const sortedPackages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => a.localeCompare(b)));

const favicon = await readFile(path.join(here, 'src/favicon.svg'));
const faviconName = hashedName('favicon', 'svg', favicon);
files.set(faviconName, favicon);
// Every bundled package's license text, since minifying drops most of the
// notices their authors ask to keep with copies of the code.
const licenseTexts = [];
for (const [name, version] of Object.entries(sortedPackages)) {
  const dir = path.join(here, 'node_modules', name);
  const file = (await readdir(dir)).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  const text = file ? (await readFile(path.join(dir, file), 'utf8')).trim() : `(no license file; package.json says ${JSON.stringify(pkgLicense[name])})`;
  licenseTexts.push(`${name}@${version}\n${'='.repeat(name.length + version.length + 1)}\n\n${text}\n`);
}
const licenses = Buffer.from(licenseTexts.join('\n') + (legal ? `\nNotices kept from the sources\n=============================\n\n${legal}` : ''));
const licensesName = hashedName('licenses', 'txt', licenses);
files.set(licensesName, licenses);

const esbuildVersion = JSON.parse(await readFile(path.join(here, 'node_modules/esbuild/package.json'), 'utf8')).version;

const manifest = {
  comment: 'Generated by scripts/playground/build.mjs; do not edit. Rebuild: npm --prefix scripts/playground ci && npm --prefix scripts/playground run build',
  script: scriptName,
  style: styleName,
  favicon: faviconName,
  licenses: licensesName,
  builtWith: { esbuild: esbuildVersion },
  packageLockSha256: sha256(await readFile(path.join(here, 'package-lock.json'))),
  packages: sortedPackages,
  files: Object.fromEntries(
    [...files.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, data]) => [name, { bytes: data.length, sha256: sha256(data) }]),
  ),
};

// Replace the directory's contents whole, so no stale asset stays embedded.
await mkdir(outDir, { recursive: true });
for (const name of await readdir(outDir)) {
  await rm(path.join(outDir, name), { recursive: true });
}
for (const [name, data] of files) {
  await writeFile(path.join(outDir, name), data);
}
await writeFile(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

let total = 0;
for (const [name, data] of [...files.entries()].sort(([a], [b]) => a.localeCompare(b))) {
  total += data.length;
  console.log(`${String(data.length).padStart(9)}  ${name}`);
}
console.log(`${String(total).padStart(9)}  total in ${path.relative(process.cwd(), outDir) || '.'}`);
