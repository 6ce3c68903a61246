/* 爱心超市收银台 as an installable web app: this service worker keeps the counter page and its files
 * so the page opens without a connection (served from /counter/sw.js, allowed to control /counter).
 *
 * Network first, the cache as the fallback: online, the clerk always gets the fresh page (prices,
 * the sign-in's form token) and the cache is refreshed; offline, the last good copy opens. Only GETs
 * of the page and its static files are answered here: look-ups, redemptions and syncs go to the
 * network as they are (they never come from a cache), and fail when it is down, which the page
 * handles (counter-offline.js signs and queues the redemption instead).
 */
"use strict";
var CACHE = "timeledger-counter-v2";
var PAGE = "/counter";
var FILES = ["/static/app.css", "/static/offices.css", "/static/app.js", "/static/counter.js",
             "/static/offline-device.js", "/static/counter-offline.js", "/static/favicon.svg", "/counter/manifest.webmanifest"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(FILES).then(function () {
      // the page as the signed-in counter sees it now (kept only if it is the page, not the sign-in)
      return fetch(PAGE, {credentials: "same-origin"}).then(function (response) {
        if (response.ok && !response.redirected) return cache.put(PAGE, response);
      }).catch(function () { /* offline while installing: kept when next fetched */ });
    });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.indexOf("timeledger-counter-") === 0 && name !== CACHE; })
      .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function kept(request) {
  if (request.method !== "GET") return null;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return null;
  if (url.pathname === PAGE) return PAGE;  // the page (any query string): one copy
  if (FILES.indexOf(url.pathname) >= 0) return url.pathname;
  return null;
}

self.addEventListener("fetch", function (event) {
  var key = kept(event.request);
  if (!key) return;  // everything else: straight to the network, never from a cache
  event.respondWith(fetch(event.request).then(function (response) {
    // keep only a real page: not a redirect to the sign-in, not an error page
    if (response.ok && !response.redirected && response.type === "basic") {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { return cache.put(key, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(key).then(function (hit) { return hit || Response.error(); });
  }));
});
