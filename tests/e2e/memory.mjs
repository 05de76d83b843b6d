// Worker memory of a full analysis in the page, per byte of capture: the figure behind the
// page's too-big limit (`browser::WORKER_BYTES_PER_FILE_BYTE`).
// usage: node tests/e2e/memory.mjs FILE...   (each analysed with the default and the seed preset)
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { launch } from './browser.mjs';
import { serve } from './serve.mjs';
import { finish, open, seedPreset } from './helpers.mjs';

const server = await serve(resolve(import.meta.dirname, '../../dist'), 0);
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await launch();
console.log('capture                         MB   preset    seconds  worker MiB  × file');
for (const file of process.argv.slice(2)) {
  const size = (await stat(file)).size;
  for (const preset of (process.env.PRESETS ?? 'context,seed').split(',')) {
    const { page, context } = await open(browser, origin);
    if (preset === 'seed') await seedPreset(page);
    const t0 = Date.now();
    const phase = await finish(page, () => page.setInputFiles('#file', file), 900_000);
    const seconds = (Date.now() - t0) / 1000;
    const memory = Number(await page.getAttribute('[data-testid=analysis]', 'data-memory'));
    console.log(`${file.split('/').at(-1).padEnd(30)}${(size / 1e6).toFixed(1).padStart(6)}   ${preset.padEnd(8)}${seconds.toFixed(1).padStart(8)}${(memory / 2 ** 20).toFixed(0).padStart(12)}${(memory / size).toFixed(2).padStart(8)}  ${phase}`);
    await context.close();
  }
}
await browser.close();
server.close();
