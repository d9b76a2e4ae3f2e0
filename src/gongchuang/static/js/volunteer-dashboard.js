// Hours and active volunteers by month, from the page's JSON block (the table beside the chart
// holds the same figures for screen readers and for when scripts do not run). The last month
// is the one still running: drawn as partial (charts.js), not as a fall.
(function () {
  function draw() {
    var block = document.getElementById("volunteer-chart-data");
    var box = document.getElementById("chart-hours");
    var C = window.GongchuangCharts;
    if (!block || !box || !window.echarts || !C) return;
    var data = JSON.parse(block.textContent);
    echarts.init(box).setOption({
      tooltip: { trigger: "axis" },
      legend: {},
      grid: { containLabel: true, left: 8, right: 16 },
      xAxis: { type: "category", data: C.monthLabels(data.months, data.partial, data.labels.partial) },
      yAxis: [{ type: "value", name: data.labels.hours }, { type: "value", name: data.labels.active }],
      series: [{ name: data.labels.hours, type: "bar", data: C.bars(data.hours, data.partial) }]
        .concat(C.line(data.labels.active, data.active, data.partial, { yAxisIndex: 1 }))
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
