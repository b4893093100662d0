// Hand-off pages: copy the link, print, and follow the parent's progress (polls a small JSON endpoint).
// Everything here is an enhancement: without JavaScript the link can be selected and the page reloaded.
(function () {
  "use strict";

  function setUpCopy() {
    var button = document.getElementById("copy-link");
    var status = document.getElementById("copy-status");
    if (!button || !navigator.clipboard) { return; }
    var field = document.querySelector(button.getAttribute("data-copy"));
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        status.textContent = "Lien copié.";
      }, function () {
        field.select();
        status.textContent = "La copie a échoué : le lien est sélectionné, copiez-le avec Ctrl+C.";
      });
    });
  }

  function setUpPrint() {
    var button = document.getElementById("print-page");
    if (!button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }

  function render(live, answer) {
    document.getElementById("handoff-state").textContent = answer.state_label;
    var list = document.getElementById("handoff-progress");
    var known = {};
    Array.prototype.forEach.call(list.children, function (item) { known[item.getAttribute("data-id")] = true; });
    answer.progress.forEach(function (step) {
      if (known[String(step.id)]) { return; }
      var item = document.createElement("li");
      item.setAttribute("data-id", String(step.id));
      item.textContent = step.label + " (" + step.at + ")";
      list.appendChild(item);
    });
    document.getElementById("handoff-empty").hidden = answer.progress.length > 0;
    live.setAttribute("data-finished", answer.finished ? "true" : "false");
  }

  function setUpProgress() {
    var live = document.getElementById("handoff-live");
    if (!live || !window.fetch) { return; }
    var url = live.getAttribute("data-progress-url");
    var delay = 2000;
    function poll() {
      if (live.getAttribute("data-finished") === "true") { return; }
      fetch(url, { headers: { "Accept": "application/json", "X-Console-Background": "1" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (answer) { render(live, answer); delay = 2000; })
        .catch(function () { delay = Math.min(delay * 2, 30000); })
        .then(function () { window.setTimeout(poll, delay); });
    }
    window.setTimeout(poll, delay);
  }

  setUpCopy();
  setUpPrint();
  setUpProgress();
})();
