// Draws the programme dashboard from the JSON block the page carries (no inline script: the
// Content-Security-Policy forbids it). The tables beside the charts hold the same figures.
(function () {
  function draw() {
    var block = document.getElementById("training-chart-data");
    if (!block || !window.echarts) return;
    var data = JSON.parse(block.textContent);
    var labels = data.labels;
    var trend = document.getElementById("chart-trend");
    if (trend) {
      var shown = data.actual.offline ? data.actual.offline.length : 0;
      echarts.init(trend).setOption({
        tooltip: { trigger: "axis" },
        legend: { type: "scroll" },
        xAxis: { type: "category", data: data.months },
        yAxis: { type: "value" },
        series: [
          { name: labels.offline, type: "line", data: data.actual.offline || [] },
          { name: labels.plan_offline, type: "line", lineStyle: { type: "dashed" }, data: data.plan.offline || [] },
          { name: labels.online, type: "line", data: data.actual.online || [] },
          { name: labels.plan_online, type: "line", lineStyle: { type: "dashed" }, data: data.plan.online || [] }
        ]
      });
      trend.dataset.drawn = String(shown);
    }
    var provinces = document.getElementById("chart-provinces");
    if (provinces) {
      echarts.init(provinces).setOption({
        tooltip: { trigger: "axis" },
        legend: {},
        grid: { left: 90 },
        xAxis: { type: "value" },
        yAxis: { type: "category", data: data.provinces.map(function (p) { return p.name; }) },
        series: [
          { name: labels.planned, type: "bar", data: data.provinces.map(function (p) { return p.planned.offline || 0; }) },
          { name: labels.actual, type: "bar", data: data.provinces.map(function (p) { return p.actual.offline || 0; }) }
        ]
      });
    }
  }
  document.addEventListener("DOMContentLoaded", draw);
  window.addEventListener("resize", function () {
    document.querySelectorAll(".chart").forEach(function (el) {
      var chart = window.echarts && echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  });
})();
