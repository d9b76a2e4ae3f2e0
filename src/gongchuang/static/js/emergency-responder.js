// The responder's alert screen: a CPR metronome at 110 beats a minute (sound and a visual
// pulse), and, once accepted, the phone's position sent every 20 s so the dispatcher sees the
// responder come closer. Position is only sent while this screen is open on an accepted alert.
(function () {
  var audio = null, timer = null, watch = null, lastSent = 0;
  function beep(beat) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.2;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.06);
    } catch (e) { /* no sound: the visual beat still runs */ }
    beat.classList.remove("on"); void beat.offsetWidth; beat.classList.add("on");
  }
  function setupMetronome() {
    var button = document.getElementById("metronome"), beat = document.getElementById("beat");
    if (!button || button.dataset.ready) return;
    button.dataset.ready = "1";
    var labelOn = button.textContent;
    button.addEventListener("click", function () {
      if (timer) {
        clearInterval(timer); timer = null;
        button.setAttribute("aria-pressed", "false"); button.textContent = labelOn;
        return;
      }
      var interval = 60000 / parseInt(button.getAttribute("data-bpm") || "110", 10);
      beep(beat);
      timer = setInterval(function () { beep(beat); }, interval);
      button.setAttribute("aria-pressed", "true");
      button.textContent = document.documentElement.lang === "en" ? "Stop the beat" : "停止节拍";
    });
  }
  function setupPosition() {
    var marker = document.querySelector("[data-share-position]");
    if (!marker || watch !== null || !navigator.geolocation) return;
    var alertId = marker.getAttribute("data-share-position");
    var token = document.querySelector('meta[name="csrf-token"]').content;
    watch = navigator.geolocation.watchPosition(function (p) {
      if (!document.querySelector("[data-share-position]")) {
        navigator.geolocation.clearWatch(watch); watch = null; return;
      }
      if (Date.now() - lastSent < 20000) return;
      lastSent = Date.now();
      fetch("/api/v1/emergency/alerts/" + alertId + "/position", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
        body: JSON.stringify({ lat: p.coords.latitude, lng: p.coords.longitude })
      });
    }, function () {}, { enableHighAccuracy: true, maximumAge: 10000 });
  }
  function setup() { setupMetronome(); setupPosition(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
  document.addEventListener("htmx:afterSwap", setup);
})();
