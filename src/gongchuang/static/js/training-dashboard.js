// Draws the programme dashboard from the JSON block the page carries (no inline script: the
// Content-Security-Policy forbids it). The tables beside the charts hold the same figures. The
// trained series stop at the month still running, drawn as partial (charts.js).
(function () {
  function draw() {
    var block = document.getElementById("training-chart-data");
    var C = window.GongchuangCharts;
    if (!block || !window.echarts || !C) return;
    var data = JSON.parse(block.textContent);
    var labels = data.labels;
    var trend = document.getElementById("chart-trend");
    if (trend) {
      var shown = data.actual.offline ? data.actual.offline.length : 0;
      var plan = { lineStyle: { type: "dotted" }, symbol: "none" };
      echarts.init(trend).setOption({
        tooltip: { trigger: "axis" },
        legend: { type: "scroll" },
        grid: { containLabel: true, left: 8, right: 16 },
        xAxis: { type: "category", data: C.monthLabels(data.months, data.partial, labels.partial).map(function (m, i) {
          return data.months[i].slice(0, 5) + m;
        }) },
        yAxis: { type: "value" },
        series: C.line(labels.offline, data.actual.offline || [], data.partial)
          .concat([Object.assign({ name: labels.plan_offline, type: "line", data: data.plan.offline || [] }, plan)])
          .concat(C.line(labels.online, data.actual.online || [], data.partial))
          .concat([Object.assign({ name: labels.plan_online, type: "line", data: data.plan.online || [] }, plan)])
      });
      trend.dataset.drawn = String(shown);
    }
    var provinces = document.getElementById("chart-provinces");
    if (provinces) {
      C.fitHeight(provinces, data.provinces.length);
      echarts.init(provinces).setOption({
        tooltip: { trigger: "axis" },
        legend: {},
        grid: { containLabel: true, left: 8, right: 24 },
        xAxis: { type: "value" },
        yAxis: C.namesAxis(data.provinces.map(function (p) { return p.name; }), 112),
        series: [
          { name: labels.planned, type: "bar", data: data.provinces.map(function (p) { return p.planned.offline || 0; }) },
          { name: labels.actual, type: "bar", data: data.provinces.map(function (p) { return p.actual.offline || 0; }) }
        ]
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
