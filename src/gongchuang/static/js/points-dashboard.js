// Draws the points dashboard charts from the JSON block the page carries (no inline script:
// the Content-Security-Policy forbids it). The tables beside each chart hold the same figures
// for screen readers and for when scripts do not run. Only the months begun are sent; the one
// still running is drawn as partial (charts.js).
(function () {
  function draw() {
    var block = document.getElementById("points-chart-data");
    var C = window.GongchuangCharts;
    if (!block || !window.echarts || !C) return;
    var data = JSON.parse(block.textContent);
    var partial = data.partial;
    var months = C.monthLabels(data.months, partial, data.labels.partial);
    var categories = document.getElementById("chart-categories");
    if (categories) {
      echarts.init(categories).setOption({
        tooltip: { trigger: "axis" },
        legend: { type: "scroll" },
        grid: { containLabel: true, left: 8, right: 16 },
        xAxis: { type: "category", data: months },
        yAxis: { type: "value", name: data.labels.points },
        series: Object.keys(data.categories).map(function (name) {
          return { name: name, type: "bar", stack: "points", data: C.bars(data.categories[name], partial) };
        })
      });
    }
    var participation = document.getElementById("chart-participation");
    if (participation) {
      echarts.init(participation).setOption({
        tooltip: { trigger: "axis" },
        legend: {},
        grid: { containLabel: true, left: 8, right: 16 },
        xAxis: { type: "category", data: months },
        yAxis: [{ type: "value", name: "%" }, { type: "value", name: "h" }],
        series: C.line(data.labels.participation, data.participation, partial)
          .concat(C.line(data.labels.latency, data.latency, partial, { yAxisIndex: 1 }))
      });
    }
    var villages = document.getElementById("chart-villages");
    if (villages) {
      var top = data.villages.slice(0, 30);
      C.fitHeight(villages, top.length);
      echarts.init(villages).setOption({
        tooltip: { trigger: "axis" },
        grid: { containLabel: true, left: 8, right: 24 },
        xAxis: { type: "value", name: data.labels.points },
        yAxis: C.namesAxis(top.map(function (v) { return v.name; }), 112),
        series: [{ name: data.labels.points, type: "bar", data: top.map(function (v) { return v.points; }) }]
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
