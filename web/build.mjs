// Builds the web client into web/dist: one JS and one CSS bundle with content hashes in
// their names (served as immutable), index.html that names them (always revalidated), the
// static files from public/, and a gzip sibling of everything compressible (parleyd sends it
// to clients that accept gzip). `node build.mjs --watch` rebuilds on change.
//
// Source maps only in the watch (development) build: a production build (`npm run build`)
// ships no .map files and no sourceMappingURL comments, so parleyd cannot serve the
// un-minified source to anyone who asks for it.
import { build, context } from 'esbuild';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'dist');
const watch = process.argv.includes('--watch');

const options = {
  entryPoints: { app: path.join(here, 'src/main.jsx') },
  bundle: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: !watch,
  sourcemap: watch ? 'linked' : false,
  legalComments: 'linked',
  entryNames: 'assets/[name]-[hash]',
  assetNames: 'assets/[name]-[hash]',
  outdir: out,
  metafile: true,
  write: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': JSON.stringify(watch ? 'development' : 'production') },
};

function finish(result) {
  const outputs = Object.keys(result.metafile.outputs).map((p) => path.relative(out, path.resolve(p)));
  const js = outputs.find((p) => p.endsWith('.js'));
  const css = outputs.find((p) => p.endsWith('.css'));
  cpSync(path.join(here, 'public'), out, { recursive: true });
  const template = readFileSync(path.join(here, 'src/index.html'), 'utf8');
  const html = template
    .replace('<!--css-->', css ? `<link rel="stylesheet" href="/${css}">` : '')
    .replace('<!--js-->', `<script type="module" src="/${js}"></script>`);
  writeFileSync(path.join(out, 'index.html'), html);
  let raw = 0;
  let zipped = 0;
  for (const file of walk(out)) {
    if (!/\.(html|js|css|svg|json|webmanifest|map|txt)$/.test(file)) continue;
    const bytes = readFileSync(file);
    const gz = gzipSync(bytes, { level: 9 });
    if (gz.length < bytes.length) {
      writeFileSync(`${file}.gz`, gz);
      if (!file.endsWith('.map')) {
        raw += bytes.length;
        zipped += gz.length;
      }
    }
  }
  if (!watch) {
    const maps = [...walk(out)].filter((file) => /\.map(\.gz)?$/.test(file));
    if (maps.length) throw new Error(`web: a production build must not ship source maps: ${maps.join(', ')}`);
  }
  const stamp = createHash('sha256').update(js + css).digest('hex').slice(0, 8);
  console.log(`web: built ${js}, ${css} (${kb(raw)} -> ${kb(zipped)} gzip) [${stamp}]`);
}

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else yield p;
  }
}

function kb(n) {
  return `${(n / 1024).toFixed(1)} KiB`;
}

if (existsSync(out)) rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
if (watch) {
  const ctx = await context({
    ...options,
    plugins: [{ name: 'finish', setup(b) { b.onEnd((r) => { if (!r.errors.length) finish(r); }); } }],
  });
  await ctx.watch();
  console.log('web: watching for changes');
} else {
  finish(await build(options));
}
