// The check-in code on the organiser's screen is renewed by htmx every data-refresh-seconds
// (templates/volunteer/qr.html). This shows the time left before the next one in the
// countdown (role=timer: read when asked, not announced every second) and says once per new
// code, in the polite status line, that a new code is shown.
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    var countdown = document.querySelector(".qr-countdown");
    var box = document.getElementById("qr-box");
    var status = document.querySelector('[data-testid="qr-announcement"]');
    if (!countdown || !box) return;
    var clock = countdown.querySelector('[data-testid="qr-clock"]');
    var period = parseInt(countdown.dataset.refreshSeconds, 10) * 1000;
    var next = Date.now() + period;
    countdown.hidden = false;

    function tick() {
      var left = Math.max(0, Math.ceil((next - Date.now()) / 1000));
      var text = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (clock.textContent !== text) clock.textContent = text;
    }

    box.addEventListener("htmx:afterSwap", function () {
      next = Date.now() + period;
      tick();
      if (!status) return;
      // Emptied first, so that the same sentence is read again for each new code.
      status.textContent = "";
      setTimeout(function () { status.textContent = status.dataset.text; }, 100);
    });
    tick();
    setInterval(tick, 250);
  });
})();
