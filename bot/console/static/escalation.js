// Live conversation: new lines arrive through the console's event stream (a relay of the service's) and are
// appended to the list, which is an aria-live region. Without JavaScript, the page works by reloading.
(function () {
  "use strict";
  var list = document.getElementById("messages");
  var status = document.getElementById("live-status");
  if (!list || !window.EventSource || list.getAttribute("data-ended") === "true") {
    if (status) { status.textContent = ""; }
    return;
  }
  var id = list.getAttribute("data-escalation-id");
  var lastId = list.getAttribute("data-last-id") || "0";
  var source = new EventSource("/escalations/" + id + "/events?after=" + encodeURIComponent(lastId));
  status.textContent = "Les nouveaux messages s’affichent ici automatiquement.";

  function append(message) {
    if (list.querySelector('[data-message-id="' + message.id + '"]')) { return; }
    var empty = document.getElementById("no-messages");
    if (empty) { empty.remove(); }
    var item = document.createElement("li");
    item.className = "console-message console-message--" + message.sender;
    item.setAttribute("data-message-id", String(message.id));
    var meta = document.createElement("p");
    meta.className = "console-message__meta";
    meta.textContent = message.who + ", " + message.time;
    var text = document.createElement("p");
    text.className = "console-message__text";
    text.textContent = message.text;
    item.appendChild(meta);
    item.appendChild(text);
    list.appendChild(item);
  }

  source.addEventListener("message", function (event) {
    var message;
    try { message = JSON.parse(event.data); } catch (error) { return; }
    append(message);
    if (message.state_changed && message.kind !== "claimed") {
      source.close();
      status.textContent = "La demande a changé d’état : rechargez la page pour voir les actions possibles.";
    }
  });
  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED) {
      status.textContent = "Mise à jour automatique interrompue : rechargez la page.";
    }
  });
})();
