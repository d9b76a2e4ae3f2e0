// Draws the points dashboard charts from the JSON block the page carries (no inline script:
// the Content-Security-Policy forbids it). The tables beside each chart hold the same figures
// for screen readers and for when scripts do not run.
(function () {
  function draw() {
    var block = document.getElementById("points-chart-data");
    if (!block || !window.echarts) return;
    var data = JSON.parse(block.textContent);
    var months = data.months.map(function (m) { return m.slice(5); });
    var categories = document.getElementById("chart-categories");
    if (categories) {
      echarts.init(categories).setOption({
        tooltip: { trigger: "axis" },
        legend: { type: "scroll" },
        xAxis: { type: "category", data: months },
        yAxis: { type: "value", name: data.labels.points },
        series: Object.keys(data.categories).map(function (name) {
          return { name: name, type: "bar", stack: "points", data: data.categories[name] };
        })
      });
    }
    var participation = document.getElementById("chart-participation");
    if (participation) {
      echarts.init(participation).setOption({
        tooltip: { trigger: "axis" },
        legend: {},
        xAxis: { type: "category", data: months },
        yAxis: [{ type: "value", name: "%" }, { type: "value", name: "h" }],
        series: [
          { name: data.labels.participation, type: "line", data: data.participation },
          { name: data.labels.latency, type: "line", yAxisIndex: 1, data: data.latency }
        ]
      });
    }
    var villages = document.getElementById("chart-villages");
    if (villages) {
      var top = data.villages.slice(0, 30);
      echarts.init(villages).setOption({
        tooltip: { trigger: "axis" },
        grid: { left: 120 },
        xAxis: { type: "value", name: data.labels.points },
        yAxis: { type: "category", inverse: true, data: top.map(function (v) { return v.name; }) },
        series: [{ name: data.labels.points, type: "bar", data: top.map(function (v) { return v.points; }) }]
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
