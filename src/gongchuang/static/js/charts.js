// What every dashboard chart shares. A month that has not begun has no figure and is left
// out (the page sends only the months begun), never drawn as 0; the month still running is
// marked as partial: its axis label says "so far", a line's last segment is dashed and its
// bar pale. Names on a category axis (villages, provinces) wrap instead of being clipped, and
// the chart grows to give each one a line.
window.GongchuangCharts = (function () {
  function monthLabels(months, partial, word) {
    return months.map(function (m, i) {
      var label = m.length > 5 ? m.slice(5) : m;
      return i === partial ? label + "\n" + word : label;
    });
  }

  // A line as two series of one name (the legend shows and hides them together): solid up to
  // the last finished month, dashed from there into the partial one.
  function line(name, values, partial, extra) {
    var solid = Object.assign({ name: name, type: "line", connectNulls: false }, extra || {});
    if (partial === null || partial === undefined || partial < 1 || partial >= values.length) {
      solid.data = values;
      return [solid];
    }
    solid.data = values.map(function (v, i) { return i < partial ? v : null; });
    var dashed = Object.assign({}, solid, {
      data: values.map(function (v, i) { return i >= partial - 1 ? v : null; }),
      lineStyle: Object.assign({}, (extra || {}).lineStyle, { type: "dashed" }),
      tooltip: { show: false }
    });
    return [solid, dashed];
  }

  // Bars with the partial month pale.
  function bars(values, partial) {
    return values.map(function (v, i) {
      return i === partial ? { value: v, itemStyle: { opacity: 0.45 } } : v;
    });
  }

  // A category axis of names: every name shown, wrapped within `width` pixels.
  function namesAxis(names, width) {
    return {
      type: "category",
      inverse: true,
      data: names,
      axisLabel: { interval: 0, width: width || 96, overflow: "break", lineHeight: 14 }
    };
  }

  // Room for one name per row (two lines each), so that none is hidden to avoid overlap.
  function fitHeight(element, rows) {
    var needed = rows * 34 + 80;
    if (element.clientHeight < needed) element.style.height = needed + "px";
  }

  function resizeAll() {
    document.querySelectorAll(".chart").forEach(function (el) {
      var chart = window.echarts && echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  }
  window.addEventListener("resize", resizeAll);

  return { monthLabels: monthLabels, line: line, bars: bars, namesAxis: namesAxis, fitHeight: fitHeight };
})();
