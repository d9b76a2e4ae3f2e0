// What cannot be undone asks first: a form, or the button that sends it, with data-confirm
// (the question, in the reader's language) is sent only when the person says yes.
(function () {
  document.addEventListener("submit", function (event) {
    var source = event.submitter && event.submitter.hasAttribute("data-confirm")
      ? event.submitter : event.target;
    var question = source && source.getAttribute && source.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
