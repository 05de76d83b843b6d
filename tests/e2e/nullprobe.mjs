import { join } from 'node:path';
import { launch } from './browser.mjs';
import { serve } from './serve.mjs';
import { ROOT } from './helpers.mjs';
const server = await serve(join(ROOT, 'dist'), 0);
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await launch();
const N = Number(process.argv[2] ?? 20);
let hits = 0;
for (let i = 0; i < N; i++) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Runtime.enable');
  const log = [];
  cdp.on('Runtime.exceptionThrown', (e) => log.push(JSON.stringify(e.exceptionDetails).slice(0, 1500)));
  page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${String(e)} stack=${e.stack}`));
  await page.goto(`${origin}/`);
  await page.waitForSelector('[data-testid=analysis][data-phase=idle]');
  await page.setInputFiles('#file', process.argv[3] ?? '/work/shared/data/formats/baseline.csv');
  await page.waitForFunction(() => ['done','failed'].includes(document.querySelector('[data-testid=analysis]').dataset.phase), null, { timeout: 120000, polling: 50 });
  await page.waitForTimeout(300);
  const bad = log.some((l) => l.startsWith('pageerror'));
  if (bad) { hits++; console.log(`--- load ${i}`); for (const l of log) console.log(l); }
  await context.close();
}
console.log(`hits ${hits}/${N}`);
await browser.close(); server.close();
