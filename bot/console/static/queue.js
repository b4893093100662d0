// The queue refreshes itself: its table is fetched again every few seconds and swapped in place.
// Without JavaScript the page still works: reload it to see new requests.
(function () {
  "use strict";
  var container = document.getElementById("queue");
  var status = document.getElementById("queue-status");
  if (!container || !window.fetch) { return; }
  var seconds = parseInt(container.getAttribute("data-refresh-seconds"), 10) || 5;

  function waitingCount(root) {
    var summary = root.querySelector("#queue-summary");
    return summary ? parseInt(summary.getAttribute("data-waiting"), 10) || 0 : 0;
  }

  function refresh() {
    if (container.contains(document.activeElement) && document.activeElement !== document.body) {
      return; // never pull a focused button from under the keyboard
    }
    fetch("/queue/rows", { headers: { "X-Console-Background": "1" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === undefined) { return; }
        var before = waitingCount(container);
        var template = document.createElement("template");
        template.innerHTML = html;
        container.replaceChildren(template.content);
        var after = waitingCount(container);
        if (after > before) {
          status.textContent = (after - before) + (after - before > 1 ? " nouvelles demandes" : " nouvelle demande") + " dans la file.";
        }
      })
      .catch(function () { /* the next tick tries again */ });
  }

  window.setInterval(refresh, seconds * 1000);
})();
