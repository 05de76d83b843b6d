// Trunk's post-build hook (Trunk.toml): finishes the page in the staging directory.
//
// 1. Content-Security-Policy: the policy in index.html names `'inline-script-hashes'` where the
//    hashes of the inline scripts belong (Trunk inlines the module that starts the app). They are
//    computed here from the built file, so scripts run only if they are exactly what was built:
//    no `'unsafe-inline'`. The build fails if the marker is missing, if no inline script is found,
//    or if any inline event handler (`on…=`) is in the page.
// 2. The service worker: `service-worker.js` becomes `sw.js` with the list of every built file
//    and a version derived from their contents, so the page, both analysis workers (the WebGPU one
//    too) and the sample are cached on the first visit and work with the network off.
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) throw new Error('TRUNK_STAGING_DIR is not set: run through trunk (Trunk.toml hooks)');
const MARKER = "'inline-script-hashes'";

const htmlPath = join(staging, 'index.html');
let html = await readFile(htmlPath, 'utf8');
if (!html.includes(MARKER)) throw new Error(`index.html has no ${MARKER} in its Content-Security-Policy`);
const hashes = [];
for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
  if (/\bsrc\s*=/i.test(m[1])) continue;
  hashes.push(`'sha256-${createHash('sha256').update(m[2], 'utf8').digest('base64')}'`);
}
if (hashes.length === 0) throw new Error('no inline script found in the built index.html (Trunk changed?)');
if (/<[^>]+\son[a-z]+\s*=/i.test(html)) throw new Error('the built index.html has an inline event handler');
html = html.replace(MARKER, hashes.join(' '));
await writeFile(htmlPath, html);

async function files(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(path)));
    else out.push(path);
  }
  return out;
}
const all = (await files(staging))
  .map((p) => relative(staging, p).split(sep).join('/'))
  .filter((p) => p !== 'sw.js' && !p.startsWith('.'))
  .sort();
const version = createHash('sha256');
for (const p of all) version.update(p).update(await readFile(join(staging, p)));
const template = await readFile(new URL('./service-worker.js', import.meta.url), 'utf8');
const urls = ['./', ...all.map((p) => `./${p}`)];
const sw = template
  .replace("'__NETSIEVE_VERSION__'", JSON.stringify(version.digest('hex').slice(0, 16)))
  .replace("['__NETSIEVE_FILES__']", JSON.stringify(urls));
if (sw === template) throw new Error('service-worker.js lacks its placeholders');
await writeFile(join(staging, 'sw.js'), sw);
console.log(`post-build: ${hashes.length} inline script hash(es) in the CSP; sw.js caches ${urls.length} files`);
