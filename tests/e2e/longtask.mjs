// Which code runs in the page's long main-thread tasks: a CPU profile (Chromium's sampling
// profiler, through CDP) of one analysis with the default preset, cut into busy stretches (no
// idle sample for 2 ms), the three longest printed with their functions by self time and by
// their first four frames. Prints the long tasks (≥ 50 ms) the page saw too. Sample times are
// approximate (the profiler samples less often than asked under load): read the shares.
// With function names (a page built with `data-wasm-opt-params="-g"` on the app's link of
// index.html, e.g. into /tmp/distg with `trunk build --release --offline --dist /tmp/distg`), it
// also prints the share of each stretch's samples under each of Netsieve's functions (and
// serde_json's decoding, Leptos building elements).
// usage: [LONGTASK_SKIP=N] [LONGTASK_DEPTH=4] [LONGTASK_DIST=dist] node tests/e2e/longtask.mjs [FILE]
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { serve } from './serve.mjs';
import { DATA, ROOT } from './helpers.mjs';

const file = process.argv[2] ?? join(DATA, 'lab-120k.csv');
// Frames to skip from the root in the paths (the event glue: 4 skips to the page's own code).
const SKIP = Number(process.env.LONGTASK_SKIP ?? 0);
const DEPTH = Number(process.env.LONGTASK_DEPTH ?? 4);
const server = await serve(process.env.LONGTASK_DIST ?? join(ROOT, 'dist'), 0);
const browser = await launch();
const page = await browser.newPage();
const cdp = await page.context().newCDPSession(page);
await page.goto(`http://127.0.0.1:${server.address().port}/`);
await page.waitForSelector('[data-testid=analysis][data-phase=idle]');
await page.evaluate(() => {
  window.__tasks = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__tasks.push([e.startTime, e.duration]); })
    .observe({ type: 'longtask', buffered: false });
});
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
await cdp.send('Profiler.start');
await page.setInputFiles('#file', file);
await page.waitForSelector('[data-testid=analysis][data-phase=done]', { timeout: 900_000 });
await page.waitForSelector('[data-testid=results]', { timeout: 60_000 });
await page.waitForTimeout(1500);
const { profile } = await cdp.send('Profiler.stop');
const tasks = await page.evaluate(() => window.__tasks);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
// Sample times in the page's performance.now() clock: the profile's clock is µs of monotonic time.
let t = profile.startTime;
const samples = profile.samples.map((id, i) => { t += profile.timeDeltas[i]; return [t, id]; });
const busy = [];
let run = null;
for (const [ts, id] of samples) {
  const n = byId.get(id);
  const idle = n.callFrame.functionName === '(idle)' || n.callFrame.functionName === '(program)';
  if (!idle) { if (!run) run = { start: ts, end: ts, ids: [] }; run.end = ts; run.ids.push(id); }
  else if (run && ts - run.end > 2000) { busy.push(run); run = null; }
}
if (run) busy.push(run);
busy.sort((a, b) => (b.end - b.start) - (a.end - a.start));
console.log('long tasks (ms):', tasks.map((x) => x[1].toFixed(0)).join(', '));
for (const r of busy.slice(0, 3)) {
  const self = new Map(), top = new Map();
  for (const id of r.ids) {
    self.set(name(byId.get(id)), (self.get(name(byId.get(id))) ?? 0) + 1);
    let chain = [], c = id;
    while (c !== undefined) { chain.push(byId.get(c)); c = parent.get(c); }
    const tops = chain.reverse().filter((n) => !['(root)', '(program)'].includes(n.callFrame.functionName)).slice(SKIP, SKIP + DEPTH).map(name).join(' > ');
    top.set(tops, (top.get(tops) ?? 0) + 1);
  }
  // Inclusive shares of the named functions (each counted once per sample).
  const under = new Map();
  for (const id of r.ids) {
    const seen = new Set();
    for (let c = id; c !== undefined; c = parent.get(c)) {
      const nm = name(byId.get(c));
      if (/netsieve::|serde_json::de::from|tachys::html::element::HtmlElement.*build/.test(nm) && !seen.has(nm)) {
        seen.add(nm);
        under.set(nm, (under.get(nm) ?? 0) + 1);
      }
    }
  }
  const ms = (r.end - r.start) / 1000;
  console.log(`\nbusy stretch of ${ms.toFixed(0)} ms (${r.ids.length} samples)`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  self ${(100 * v / r.ids.length).toFixed(1)} %  ${k}`);
  for (const [k, v] of [...top].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log(`  path ${(100 * v / r.ids.length).toFixed(1)} %  ${k}`);
  for (const [k, v] of [...under].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  under ${(100 * v / r.ids.length).toFixed(1)} %  ${k.slice(0, 160)}`);
}
await browser.close();
server.close();
