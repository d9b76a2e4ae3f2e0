// A slow download says it is working. A link with data-busy (the message, in the reader's
// language) and data-status (the id of a role="status" element) fetches its file while the
// link is marked busy and the message shown, then hands the file over as a download and says
// so (data-done), or says it failed (data-failed). A second tap while busy does nothing.
// Without this script, or without fetch, the link is a plain link.
(function () {
  function filename(response, href) {
    var header = response.headers.get("Content-Disposition") || "";
    var match = /filename="?([^";]+)"?/.exec(header);
    return match ? match[1] : href.split("?")[0].split("/").pop();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-busy]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey ||
        event.ctrlKey || event.shiftKey || event.altKey || !window.fetch) {
      return;
    }
    event.preventDefault();
    if (link.getAttribute("aria-busy") === "true") return;
    var status = document.getElementById(link.getAttribute("data-status"));
    function say(text) { if (status) status.textContent = text || ""; }
    link.setAttribute("aria-busy", "true");
    link.setAttribute("aria-disabled", "true");
    say(link.getAttribute("data-busy"));
    fetch(link.href, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.blob().then(function (blob) {
          var url = URL.createObjectURL(blob);
          var save = document.createElement("a");
          save.href = url;
          save.download = filename(response, link.href);
          save.hidden = true;
          document.body.appendChild(save);
          save.click();
          save.remove();
          setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
          say(link.getAttribute("data-done"));
        });
      })
      .catch(function () { say(link.getAttribute("data-failed")); })
      .then(function () {
        link.removeAttribute("aria-busy");
        link.removeAttribute("aria-disabled");
      });
  });
})();
