// The countdown on a quiz paper. The server keeps the real deadline; at zero the answers given
// so far are sent, and a second tap on "submit" is stopped here (the submission key would
// make it count once anyway).
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    var timer = document.getElementById("quiz-timer");
    var form = document.getElementById("quiz-paper");
    if (!timer || !form) return;
    var deadline = Date.now() + parseInt(timer.dataset.remaining, 10) * 1000;
    var sent = false;
    form.addEventListener("submit", function (event) {
      if (sent) { event.preventDefault(); return; }
      sent = true;
      var button = form.querySelector('button[type="submit"]');
      if (button) button.disabled = true;
    });
    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      timer.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      // Said once, politely: a live timer would be read out every second of the last minute.
      var warning = document.getElementById("quiz-timer-warning");
      if (left <= 60 && left > 0 && warning && !warning.textContent) {
        warning.textContent = warning.dataset.text;
      }
      if (left === 0) {
        if (!sent) { sent = true; form.submit(); }
        return;
      }
      setTimeout(tick, 1000);
    }
    tick();
  });
})();
