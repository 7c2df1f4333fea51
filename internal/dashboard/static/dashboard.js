// insure operations dashboard: keeps the page up to date over Server-Sent
// Events. The server renders every panel; this script only swaps them in.
// No inline script or style is used anywhere (see the CSP).
(function () {
  "use strict";

  var status = document.getElementById("live-status");
  function setStatus(state) {
    if (status) {
      status.setAttribute("data-state", state);
      status.textContent = state;
    }
  }

  // Replace a panel, keeping the boxes that were ticked ticked.
  function swapPanel(id, html) {
    var el = document.querySelector('[data-panel="' + id + '"]');
    if (!el) { return; }
    var ticked = {};
    el.querySelectorAll('input[type="checkbox"][name="sel"]:checked').forEach(function (box) { ticked[box.value] = true; });
    el.innerHTML = html;
    el.querySelectorAll('input[type="checkbox"][name="sel"]').forEach(function (box) { box.checked = !!ticked[box.value]; });
  }

  var maxRows = 300;
  function addEvents(html) {
    var body = document.getElementById("stream");
    if (!body) { return; }
    var tmp = document.createElement("tbody");
    tmp.innerHTML = html;
    var rows = Array.prototype.slice.call(tmp.children);
    for (var i = rows.length - 1; i >= 0; i--) {
      rows[i].classList.add("new");
      body.insertBefore(rows[i], body.firstChild);
    }
    while (body.children.length > maxRows) { body.removeChild(body.lastChild); }
  }

  function connect(url) {
    var source = new EventSource(url);
    source.addEventListener("open", function () { setStatus("live"); });
    source.addEventListener("panel", function (e) {
      var msg = JSON.parse(e.data);
      swapPanel(msg.id, msg.html);
    });
    source.addEventListener("events", function (e) {
      var msg = JSON.parse(e.data);
      // Its id is the last position: a reconnect resumes after it.
      addEvents(msg.html);
    });
    source.addEventListener("ended", function () {
      source.close();
      window.location.assign("/dashboard/login");
    });
    source.addEventListener("error", function () {
      setStatus("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        // Refused (the session ended, or the server restarted): reload,
        // which shows the login page when the session is gone.
        window.setTimeout(function () { window.location.reload(); }, 3000);
      }
    });
    return source;
  }

  // "Select all" for the dead letters (the list is re-rendered live, so
  // listen on the document).
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "select-all") {
      document.querySelectorAll('input[type="checkbox"][name="sel"]').forEach(function (box) { box.checked = e.target.checked; });
    }
  });

  var live = document.body.getAttribute("data-live");
  if (live && window.EventSource) {
    connect(live);
  }
})();
