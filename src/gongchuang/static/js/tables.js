// On a narrow screen a table row is shown as a card (gongchuang.css): each cell is labelled
// with its column's heading, copied here into data-label, for tables swapped in by htmx too.
(function () {
  function label(root) {
    (root || document).querySelectorAll("table").forEach(function (table) {
      var heads = table.querySelectorAll("thead th");
      if (!heads.length) return;
      var names = Array.prototype.map.call(heads, function (th) { return th.textContent.trim(); });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.children, function (cell) {
          var name = names[column];
          if (name && cell.tagName === "TD" && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", name);
          column += parseInt(cell.getAttribute("colspan") || "1", 10);
        });
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { label(); });
  else label();
  document.addEventListener("htmx:afterSettle", function (event) { label(event.target); });
})();
