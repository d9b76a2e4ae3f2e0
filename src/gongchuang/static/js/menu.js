// The header's menu (a <details class="menu"> in templates/base.html) folds the navigation away on
// a narrow screen, where it opens and closes without this script. Here: on a wide screen it is kept
// open (the CSS hides its button there); on a narrow one Escape, or a tap outside it, closes it.
(function () {
  var wide = window.matchMedia("(min-width: 48rem)");

  function menu() {
    return document.querySelector("details.menu");
  }

  function fit() {
    var m = menu();
    if (m) m.open = wide.matches;
  }

  document.addEventListener("DOMContentLoaded", fit);
  wide.addEventListener("change", fit);

  document.addEventListener("keydown", function (event) {
    var m = menu();
    if (event.key !== "Escape" || !m || !m.open || wide.matches) return;
    m.open = false;
    m.querySelector("summary").focus();
  });

  document.addEventListener("click", function (event) {
    var m = menu();
    if (m && m.open && !wide.matches && !m.contains(event.target)) m.open = false;
  });
})();
