// Netsieve's service worker (tools/post_build.mjs fills in the version and the file list).
// On install it caches every file of the build — the page, the CPU and WebGPU analysis workers,
// the styles, the sample — and serves them from that cache from then on, so the page works with
// the network off. It never caches or forwards anything else: a capture is never fetched, it is
// read from the user's disk. A new build has a new version: it replaces the old cache on activate.
const VERSION = '__NETSIEVE_VERSION__';
const FILES = ['__NETSIEVE_FILES__'];
const CACHE = `netsieve-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('netsieve-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    caches.open(CACHE)
      .then((cache) => cache.match(request, { ignoreSearch: true }))
      .then((hit) => hit ?? fetch(request)),
  );
});
