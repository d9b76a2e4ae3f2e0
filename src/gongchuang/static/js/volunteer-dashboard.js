// Hours and active volunteers by month, from the page's JSON block (the table beside the chart
// holds the same figures for screen readers and for when scripts do not run).
(function () {
  function draw() {
    var block = document.getElementById("volunteer-chart-data");
    var box = document.getElementById("chart-hours");
    if (!block || !box || !window.echarts) return;
    var data = JSON.parse(block.textContent);
    echarts.init(box).setOption({
      tooltip: { trigger: "axis" },
      legend: {},
      xAxis: { type: "category", data: data.months.map(function (m) { return m.slice(5); }) },
      yAxis: [{ type: "value", name: data.labels.hours }, { type: "value", name: data.labels.active }],
      series: [
        { name: data.labels.hours, type: "bar", data: data.hours },
        { name: data.labels.active, type: "line", yAxisIndex: 1, data: data.active }
      ]
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
