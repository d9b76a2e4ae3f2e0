// Gongchuang service worker: shows Web Push notifications and opens their link when tapped.
self.addEventListener("push", (event) => {
  let message = { title: "共创", body: "", link: "/notifications" };
  try {
    message = Object.assign(message, event.data ? event.data.json() : {});
  } catch (error) {
    message.body = event.data ? event.data.text() : "";
  }
  event.waitUntil(
    self.registration.showNotification(message.title, {
      body: message.body,
      data: { link: message.link || "/notifications" },
      lang: "zh-CN",
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.link));
});

// Offline lessons: the course page sends the URLs of an enrolled course (pages, pictures, PDFs,
// the scripts and styles they use) to keep. Training pages and static files are fetched from
// the network first (always fresh when there is signal) and from the kept copy when not.
var OFFLINE_CACHE = "gc-offline-v1";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep-offline" || !Array.isArray(data.urls)) return;
  var urls = data.urls.filter(function (url) {
    return typeof url === "string" && (url.indexOf("/training/") === 0 || url.indexOf("/static/") === 0);
  });
  event.waitUntil(
    caches.open(OFFLINE_CACHE).then(function (cache) {
      return Promise.all(urls.map(function (url) {
        return fetch(url, { credentials: "same-origin" }).then(function (response) {
          if (response.ok) return cache.put(url, response);
        }).catch(function () {});
      }));
    }).then(function () {
      if (event.source) event.source.postMessage({ type: "kept-offline", count: urls.length });
    })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf("/training/") !== 0 && url.pathname.indexOf("/static/") !== 0) return;
  var key = url.pathname + url.search;
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok && response.type === "basic") {
        var copy = response.clone();
        caches.open(OFFLINE_CACHE).then(function (cache) {
          return cache.match(key).then(function (kept) { if (kept) return cache.put(key, copy); });
        });
      }
      return response;
    }).catch(function () {
      return caches.open(OFFLINE_CACHE).then(function (cache) {
        return cache.match(key).then(function (kept) { return kept || Response.error(); });
      });
    })
  );
});
