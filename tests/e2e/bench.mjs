// Browser benchmark, in headless Chromium. For each capture and preset: time from dropping the
// file to the overview on screen, to the incidents (the end of the analysis), the worker's wasm
// memory, the tab's peak memory (resident memory of Chromium's renderer processes, sampled every
// 100 ms: the page and its workers live there) and the longest main-thread task. For lab-120k,
// also the threshold slider: the time from moving it to the new results on screen.
// usage: node tests/e2e/bench.mjs [--runs N] [FILE ...]   (default: lab-120k with both presets, the
// 1M-packet CSV and the 150 MB pcapng that ./x bench makes with the default preset, once each)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { launch } from './browser.mjs';
import { serve } from './serve.mjs';
import { CACHE, DATA, ROOT, seedPreset } from './helpers.mjs';

const args = process.argv.slice(2);
let runs = 3;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') runs = Number(args[++i]);
  else if (!args[i].startsWith('--')) files.push(args[i]);
}
const lab = join(DATA, 'lab-120k.csv');
if (!files.length) {
  files.push(lab);
  for (const big of ['data/large-1m.csv', 'data/large-150mb.pcapng'].map((f) => join(CACHE, f))) {
    if (existsSync(big)) files.push(big);
  }
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Resident memory of every Chromium renderer process, in bytes (Linux /proc). */
function rendererRss() {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('--type=renderer')) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
      if (m) total += Number(m[1]) * 1024;
    } catch { /* the process ended */ }
  }
  return total;
}

/** Moves the combined-score slider to each value and times each until the page shows the
 * new results (their status line changes) and has painted them. */
async function sliderTimes(page) {
  const times = [];
  for (const v of [2.5, 3.5, 2.5, 3.0, 2.0]) {
    const before = await page.textContent('[data-testid=cut-status]');
    const t0 = await page.evaluate(() => performance.now());
    await page.$eval('[data-testid=threshold]', (el, x) => {
      el.value = String(x);
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }, v);
    await page.waitForFunction((b) => document.querySelector('[data-testid=cut-status]').textContent !== b, before, { polling: 'raf', timeout: 60_000 });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
    times.push((await page.evaluate(() => performance.now())) - t0);
  }
  return times;
}

const server = await serve(join(ROOT, 'dist'), 0);
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await launch();
console.log(`headless Chromium; median of ${runs} runs for files under 50 MB, one run for larger ones`);
console.log('capture              preset      MB    packets   overview s   incidents s   worker MB (× file)   tab peak MB   longest task ms   slider ms (median of 5)');
for (const file of files) {
  const mb = statSync(file).size / 1e6;
  const presets = file === lab ? ['default', 'seed'] : ['default'];
  for (const preset of presets) {
    const overviews = [], walls = [], mems = [], tabs = [], longs = [], sliders = [];
    let packets = 0;
    for (let r = 0; r < (mb < 50 ? runs : 1); r++) {
      const page = await browser.newPage();
      await page.goto(`${origin}/`);
      await page.waitForSelector('[data-testid=analysis][data-phase=idle]');
      if (preset === 'seed') await seedPreset(page);
      await page.evaluate(() => {
        window.__long = 0;
        new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long = Math.max(window.__long, e.duration); })
          .observe({ type: 'longtask', buffered: false });
      });
      let peak = rendererRss();
      const sampler = setInterval(() => { peak = Math.max(peak, rendererRss()); }, 100);
      const t0 = Date.now();
      await page.setInputFiles('#file', file);
      await page.waitForSelector('[data-testid=packet-count]', { timeout: 900_000 });
      overviews.push((Date.now() - t0) / 1000);
      await page.waitForSelector('[data-testid=analysis][data-phase=done]', { timeout: 900_000 });
      walls.push((Date.now() - t0) / 1000);
      await page.waitForSelector('[data-testid=results]', { timeout: 60_000 });
      clearInterval(sampler);
      tabs.push(Math.max(peak, rendererRss()));
      mems.push(Number(await page.getAttribute('[data-testid=analysis]', 'data-memory')));
      packets = Number(await page.getAttribute('[data-testid=packet-count]', 'data-value'));
      longs.push(await page.evaluate(() => window.__long));
      if (file === lab && preset === 'default') sliders.push(median(await sliderTimes(page)));
      await page.close();
    }
    const w = median(mems) / 1e6;
    console.log([
      basename(file).padEnd(20), preset.padEnd(8), mb.toFixed(1).padStart(7), String(packets).padStart(10),
      median(overviews).toFixed(2).padStart(12), median(walls).toFixed(2).padStart(13),
      `${w.toFixed(0)} (${(w / mb).toFixed(1)}×)`.padStart(20), (median(tabs) / 1e6).toFixed(0).padStart(13),
      median(longs).toFixed(0).padStart(17), (sliders.length ? median(sliders).toFixed(0) : '').padStart(26),
    ].join(' '));
  }
}
await browser.close();
server.close();
