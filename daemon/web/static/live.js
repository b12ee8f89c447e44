// Keeps the dashboard current: fetches its fragment again every few seconds.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box || !window.fetch) { return; }
  var every = parseInt(box.getAttribute("data-every"), 10) || 3000;
  var url = box.getAttribute("data-live");
  var timer = null;

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        box.innerHTML = html;
        box.removeAttribute("data-stale");
      })
      .catch(function () { box.setAttribute("data-stale", "true"); })
      .then(schedule);
  }

  function schedule() {
    timer = window.setTimeout(refresh, document.hidden ? every * 5 : every);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { window.clearTimeout(timer); refresh(); }
  });
  schedule();
}());
