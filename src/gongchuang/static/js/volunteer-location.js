// The phone's location, only where the person asks for it: a button fills coordinates into a
// form, and a check-in form adds them just before it is sent (and waits for an answer if the
// check needs them). Nothing is sent or kept otherwise.
(function () {
  function locate(done) {
    if (!navigator.geolocation) { done(null); return; }
    navigator.geolocation.getCurrentPosition(
      function (p) { done(p.coords); },
      function () { done(null); },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 30000 }
    );
  }
  function setup() {
    document.querySelectorAll("[data-fill-location]").forEach(function (button) {
      var ids = button.getAttribute("data-fill-location").split(" ");
      button.hidden = !navigator.geolocation;
      button.addEventListener("click", function () {
        locate(function (c) {
          if (!c) return;
          document.getElementById(ids[0]).value = c.latitude.toFixed(5);
          document.getElementById(ids[1]).value = c.longitude.toFixed(5);
        });
      });
    });
    document.querySelectorAll("form[data-add-location]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.located) return;
        event.preventDefault();
        locate(function (c) {
          if (c) {
            form.elements.lat.value = c.latitude.toFixed(6);
            form.elements.lng.value = c.longitude.toFixed(6);
          }
          form.dataset.located = "1";
          form.submit();
        });
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
