// Lessons on a phone with poor signal. Progress (video position, "finished") goes into a queue
// kept in localStorage and is sent when the network allows: at once, on the "online" event,
// on every page load and every 30 s. The course page asks the service worker to keep the
// enrolled course's pages, pictures and PDFs so that lessons open without any signal.
(function () {
  var QUEUE = "gc-training-progress";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  function load() {
    try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; }
  }
  function save(queue) { localStorage.setItem(QUEUE, JSON.stringify(queue)); }
  function say(key) {
    var el = document.getElementById("sync-status");
    if (el && el.dataset[key]) el.textContent = el.dataset[key];
  }

  var sending = false;
  function flush() {
    var queue = load();
    if (sending || !queue.length || navigator.onLine === false) return Promise.resolve(false);
    sending = true;
    return fetch("/api/v1/training/progress", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({ items: queue.slice(0, 500) })
    }).then(function (response) {
      sending = false;
      // Sent, or refused for good (not enrolled any more): either way it leaves the queue.
      if (response.ok || response.status === 422 || response.status === 404) {
        save(load().slice(Math.min(queue.length, 500)));
        if (response.ok) say("synced");
        return response.ok;
      }
      return false;
    }).catch(function () { sending = false; return false; });
  }

  function record(lessonId, position, completed) {
    var queue = load();
    queue.push({
      lesson_id: lessonId,
      position_seconds: Math.max(0, Math.floor(position || 0)),
      completed: !!completed,
      recorded_at: new Date().toISOString()
    });
    save(queue.slice(-2000));
  }

  function lessonPage() {
    var lesson = document.getElementById("lesson");
    if (!lesson || lesson.dataset.enrolled !== "true") return;
    var lessonId = parseInt(lesson.dataset.lessonId, 10);
    var video = lesson.querySelector("video");
    if (video) {
      var start = parseInt(lesson.dataset.position || "0", 10);
      video.addEventListener("loadedmetadata", function () {
        if (start > 0 && start < video.duration - 5) video.currentTime = start;
      });
      var last = 0;
      video.addEventListener("timeupdate", function () {
        if (Math.abs(video.currentTime - last) >= 15) {
          last = video.currentTime;
          record(lessonId, video.currentTime, false);
          flush();
        }
      });
      video.addEventListener("ended", function () { record(lessonId, video.duration, true); flush(); });
    }
    var form = document.getElementById("lesson-done");
    if (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        record(lessonId, video ? video.currentTime : 0, true);
        var button = form.querySelector("button");
        if (button) button.disabled = true;
        flush().then(function (sent) {
          if (sent) { window.location.reload(); return; }
          say("offline");
        });
      });
    }
  }

  function keepOffline() {
    var status = document.getElementById("offline-status");
    if (!status || !("serviceWorker" in navigator)) return;
    var urls = JSON.parse(status.dataset.offlineUrls || "[]");
    if (!urls.length) return;
    document.querySelectorAll('link[rel="stylesheet"][href^="/"], script[src^="/"]').forEach(function (el) {
      urls.push(el.getAttribute("href") || el.getAttribute("src"));
    });
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "kept-offline") {
        status.textContent = status.dataset.kept || status.textContent;
        status.dataset.keptCount = String(event.data.count);
      }
    });
    navigator.serviceWorker.register("/sw.js").then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      registration.active.postMessage({ type: "keep-offline", urls: urls });
    }).catch(function () {});
  }

  document.addEventListener("DOMContentLoaded", function () {
    lessonPage();
    keepOffline();
    flush();
  });
  window.addEventListener("online", flush);
  setInterval(flush, 30000);
})();
