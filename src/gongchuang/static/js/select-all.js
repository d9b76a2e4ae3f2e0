// "Select all" for a form's list of checkboxes, with a count read out as it changes:
// <div data-select-all="record_ids" hidden> holding one checkbox and [data-selected-count
// data-template="… {n} …"]. Without JavaScript it stays hidden and each box is ticked by hand.
(function () {
  function setUp(box) {
    var form = box.closest("form");
    var name = box.getAttribute("data-select-all");
    var all = box.querySelector("input[type=checkbox]");
    var count = box.querySelector("[data-selected-count]");
    var template = count.getAttribute("data-template");
    function items() {
      return Array.prototype.filter.call(form.querySelectorAll("input[type=checkbox]"), function (c) {
        return c.name === name;
      });
    }
    function update() {
      var list = items();
      var n = list.filter(function (c) { return c.checked; }).length;
      all.checked = n > 0 && n === list.length;
      all.indeterminate = n > 0 && n < list.length;
      count.textContent = template.replace("{n}", String(n));
    }
    all.addEventListener("change", function () {
      items().forEach(function (c) { c.checked = all.checked; });
      update();
    });
    form.addEventListener("change", function (event) {
      if (event.target.name === name) update();
    });
    box.hidden = false;
    update();
  }
  function start() { document.querySelectorAll("[data-select-all]").forEach(setUp); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
