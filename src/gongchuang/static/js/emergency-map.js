// Maps of the first-aid network, drawn from a JSON block beside each map (no inline script):
// {settings: {tiles, attribution}, markers: [{at: [lat, lng], kind, label}], circle}.
// Coordinates arrive already in the tiles' system. Without configured tiles the markers are
// drawn on a plain background, so nothing is fetched from outside.
(function () {
  var COLOURS = {
    patient: "#b3261e", aed: "#1b6e3a", "aed-off": "#767676", "aed-unknown": "#9a5b00", responder: "#0b57d0",
    covered: "#1b6e3a", uncovered: "#b3261e", suggestion: "#7a3ea0"
  };
  function draw(element) {
    if (element.dataset.drawn || typeof L === "undefined") return;
    var source = document.getElementById(element.getAttribute("data-map"));
    if (!source) return;
    var data = JSON.parse(source.textContent);
    element.dataset.drawn = "1";
    var map = L.map(element, { scrollWheelZoom: false, zoomControl: false, attributionControl: !!data.settings.tiles });
    L.control.zoom({ zoomInTitle: data.settings.zoom_in, zoomOutTitle: data.settings.zoom_out }).addTo(map);
    if (data.settings.tiles) {
      L.tileLayer(data.settings.tiles, { attribution: data.settings.attribution, maxZoom: 19 }).addTo(map);
    }
    var bounds = [];
    if (data.circle) {
      L.circle(data.circle.at, { radius: data.circle.radius, color: "#0b57d0", weight: 1, fill: false, interactive: false }).addTo(map);
      bounds.push(data.circle.at);
    }
    data.markers.forEach(function (m) {
      var big = m.kind === "patient" || m.kind === "suggestion";
      L.circleMarker(m.at, {
        radius: big ? 9 : (m.kind === "covered" || m.kind === "uncovered" ? 4 : 7),
        color: "#ffffff", weight: 2, fillColor: COLOURS[m.kind] || "#333333", fillOpacity: 0.9,
        interactive: false
      }).addTo(map);
      bounds.push(m.at);
    });
    if (bounds.length > 1) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
    else if (bounds.length === 1) map.setView(bounds[0], 16);
    else map.setView([35, 105], 4);
  }
  function drawAll() { document.querySelectorAll("[data-map]").forEach(draw); drawCharts(); }
  function drawCharts() {
    if (typeof echarts === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      if (element.dataset.drawn) return;
      element.dataset.drawn = "1";
      var data = JSON.parse(document.getElementById(element.getAttribute("data-chart")).textContent);
      var chart = echarts.init(element, null, { renderer: "svg" });
      chart.setOption({
        grid: { left: 48, right: 16, top: 16, bottom: 32 },
        xAxis: { type: "category", data: data.hours.map(function (h) { return h + ":00"; }) },
        yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
        tooltip: { trigger: "axis" },
        series: [{ type: "line", step: "middle", areaStyle: {}, data: data.share, color: "#1b6e3a" }]
      });
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
  // After settling: while settling, htmx lends the old element's attributes to the new one.
  document.addEventListener("htmx:afterSettle", drawAll);
})();
