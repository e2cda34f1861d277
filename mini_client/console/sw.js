// Service worker for the staff console (scope /console/): keeps the app shell — the page, its
// modules and styles, and the /shared/ files they use — so the console opens without signal.
//
// Only shell files are ever cached. API calls (/api/…, /ws/…, /verify/…) are not intercepted:
// they carry tokens and personal data and must never land in Cache Storage. Offline reads come
// from offline.js's own IndexedDB copy of the last case; offline writes wait in its outbox.
//
// Shell files are served from the cache at once and refreshed from the network behind the page
// (stale-while-revalidate), so a changed file is in use from the next load on. A new sw.js (bump
// VERSION for a clean re-download of everything) takes over as soon as it is installed, deletes
// the old caches and serves the next load; the page in use keeps running the code it loaded.
const VERSION = "2"; // 2: one shared API, upload, peer and i18n module (the module graph changed)
const PREFIX = "ci-console-shell-";
const CACHE = `${PREFIX}v${VERSION}`;

const SCOPE = new URL("./", self.location).href; // …/console/
const SHELL_DIRS = [SCOPE, new URL("../shared/", self.location).href];
const PAGE = SCOPE; // the console's one HTML page (/console/ serves index.html)
const PAGES = new Set([SCOPE, `${SCOPE}index.html`]);

// References followed to find the shell: scripts and stylesheets in the page; static and
// dynamic imports (and re-exports) in the modules.
const HTML_REFS = /<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']/g;
const JS_REFS = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"'\n]+)["']/g;

const isShellFile = (href) =>
  href !== self.location.href && SHELL_DIRS.some((dir) => href.startsWith(dir));

const keyOf = (href) => {
  const url = new URL(href);
  url.hash = "";
  url.search = "";
  return PAGES.has(url.href) ? PAGE : url.href;
};

/** Shell files a fetched page or module refers to (empty for anything else). */
async function referencesOf(url, response) {
  const type = response.headers.get("content-type") || "";
  const pattern = type.includes("html") ? HTML_REFS : type.includes("javascript") ? JS_REFS : null;
  if (!pattern) return [];
  const text = await response.text();
  return [...text.matchAll(pattern)]
    .map((match) => keyOf(new URL(match[1], url).href))
    .filter(isShellFile);
}

/** Fetch past the HTTP cache and keep a good answer; an error answer is not kept. */
async function download(cache, href) {
  const response = await fetch(href, { cache: "no-cache", credentials: "same-origin" });
  if (response.ok && response.type === "basic") await cache.put(href, response.clone());
  return response;
}

/**
 * Download `roots` and every shell file they refer to, transitively, except those `skip`
 * says to leave (already cached). A referenced file that does not exist is left out (a stray
 * match in a comment); with `strict`, a missing root or an unreachable network fails the walk.
 */
async function collect(cache, roots, { skip = async () => false, strict = false } = {}) {
  const seen = new Set();
  const queue = [...roots];
  while (queue.length) {
    const href = queue.shift();
    if (seen.has(href)) continue;
    seen.add(href);
    if (await skip(href)) continue;
    const response = await download(cache, href);
    if (!response.ok) {
      if (strict && roots.includes(href)) throw new Error(`shell file ${href}: HTTP ${response.status}`);
      continue;
    }
    queue.push(...(await referencesOf(href, response)));
  }
}

/** After a refresh: fetch the shell files the new copy refers to that are not cached yet. */
async function followNew(cache, href) {
  const stored = await cache.match(href);
  if (!stored) return;
  const cached = async (ref) => Boolean(await cache.match(ref));
  await collect(cache, await referencesOf(href, stored), { skip: cached });
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      await collect(await caches.open(CACHE), [PAGE], { strict: true });
      await self.skipWaiting(); // a new version serves the next load; no tab waits for it
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      const old = names.filter((name) => name.startsWith(PREFIX) && name !== CACHE);
      await Promise.all(old.map((name) => caches.delete(name)));
      await self.clients.claim();
    })(),
  );
});

/** Stale-while-revalidate: the cached copy now, the network's copy for the next load. */
async function serve(event, href) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(href);
  const network = download(cache, href);
  // Offline the refresh fails quietly: the cached copy is all there is.
  event.waitUntil(network.then(() => followNew(cache, href)).catch(() => null));
  return cached || network;
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const href = keyOf(request.url);
  if (request.mode === "navigate") {
    if (href === PAGE) event.respondWith(serve(event, PAGE));
    return; // other pages (the applicant's, /verify/…) are not the console's
  }
  if (isShellFile(href)) event.respondWith(serve(event, href));
});
