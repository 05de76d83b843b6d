// One seed-preset run of lab-120k in headless Chromium: the page's report's training split
// (µs per step of each part), to compare the page's CPU trainer with the native one.
// usage: node tests/e2e/seedstep.mjs [FILE]
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { serve } from './serve.mjs';
import { DATA, ROOT, seedPreset, downloadReport } from './helpers.mjs';

const file = process.argv[2] ?? join(DATA, 'lab-120k.csv');
const server = await serve(join(ROOT, 'dist'), 0);
const browser = await launch();
const page = await browser.newPage();
await page.goto(`http://127.0.0.1:${server.address().port}/`);
await page.waitForSelector('[data-testid=analysis][data-phase=idle]');
await seedPreset(page);
const t0 = Date.now();
await page.setInputFiles('#file', file);
await page.waitForSelector('[data-testid=analysis][data-phase=done]', { timeout: 900_000 });
const wall = (Date.now() - t0) / 1000;
const report = await downloadReport(page);
const t = report.detectors.autoencoder.timings_s;
const parts = Object.entries(t).filter(([k]) => k.startsWith('fit_step_'));
const n = Math.ceil(report.row_no.length / 32) * 20; // 20 epochs at batch 32
console.log(`drop to done ${wall.toFixed(2)} s; fit ${t.fit.toFixed(2)} s; ${(t.fit / n * 1e6).toFixed(1)} µs per step (${n} steps)`);
console.log(parts.map(([k, v]) => `${k.slice(9)} ${(v / n * 1e6).toFixed(1)}`).join('  '));
await browser.close();
server.close();
