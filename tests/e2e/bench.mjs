// Browser benchmark, in headless Chromium, for each capture: time from dropping the file to the
// overview on screen (parse + overview in the worker), time to the end of the seed preset's
// three detectors (with --detect; default for lab-120k only), the worker's wasm memory and the
// longest main-thread task.
// usage: node tests/e2e/bench.mjs [--runs N] [FILE ...]   (default: lab-120k, the 1M-packet CSV and
// the 150 MB pcapng that ./x bench makes)
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { launch } from './browser.mjs';
import { serve } from './serve.mjs';
const ROOT = resolve(import.meta.dirname, '../..');
const SHARED = process.env.NETSIEVE_SHARED ?? resolve(ROOT, '../shared');
const CACHE = process.env.NETSIEVE_CACHE ?? join(process.env.HOME, '.cache/netsieve');

const args = process.argv.slice(2);
let runs = 3;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') runs = Number(args[++i]);
  else if (!args[i].startsWith('--')) files.push(args[i]);
}
if (!files.length) {
  files.push(join(SHARED, 'data/lab-120k.csv'));
  for (const big of ['data/large-1m.csv', 'data/large-150mb.pcapng'].map((f) => join(CACHE, f))) {
    if (existsSync(big)) files.push(big);
  }
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const server = await serve(join(ROOT, 'dist'), 0);
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await launch();
console.log(`headless Chromium, median of ${runs} runs; the detectors run on files under 50 MB`);
console.log('capture                 MB    packets   drop-to-overview s   drop-to-done s   worker memory MB (× file)   longest main-thread task ms (incl. drawing results)');
for (const file of files) {
  const overviews = [], walls = [], mems = [], longs = [];
  const detect = statSync(file).size < 50e6;
  let packets = 0;
  for (let r = 0; r < runs; r++) {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    await page.waitForSelector('[data-testid=analysis][data-phase=idle]');
    if (!detect) {
      // Overview only: an epoch count of 0 is refused, so set the detectors off through the panel.
      await page.click('[data-testid=params] summary');
      await page.check('[data-testid=param-detect]');
    }
    await page.evaluate(() => {
      window.__long = 0;
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long = Math.max(window.__long, e.duration); })
        .observe({ type: 'longtask', buffered: false });
    });
    const t0 = Date.now();
    await page.setInputFiles('#file', file);
    await page.waitForSelector('[data-testid=packet-count]', { timeout: 300_000 });
    overviews.push((Date.now() - t0) / 1000);
    await page.waitForSelector('[data-testid=analysis][data-phase=done]', { timeout: 300_000 });
    walls.push((Date.now() - t0) / 1000);
    mems.push(Number(await page.getAttribute('[data-testid=analysis]', 'data-memory')));
    packets = Number(await page.getAttribute('[data-testid=packet-count]', 'data-value'));
    longs.push(await page.evaluate(() => window.__long));
    await page.close();
  }
  const mb = statSync(file).size / 1e6;
  const o = median(overviews), w = median(walls), m = median(mems) / 1e6;
  console.log(`${basename(file).padEnd(20)}${mb.toFixed(1).padStart(6)}${String(packets).padStart(11)}${o.toFixed(2).padStart(21)}${(detect ? w.toFixed(2) : '(overview only)').padStart(17)}${m.toFixed(0).padStart(14)} (${(m / mb).toFixed(2)}×)${median(longs).toFixed(0).padStart(26)}`);
}
await browser.close();
server.close();
