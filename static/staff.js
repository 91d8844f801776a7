// Progressive enhancement of the staff pages: every page works without this file.
(function () {
  "use strict";
  // The fieldwork table refreshes itself from fieldwork.json (counts only).
  var table = document.getElementById("fieldwork");
  if (!table || !window.fetch) { return; }
  var url = table.getAttribute("data-source");
  var seconds = Number(table.getAttribute("data-refresh-seconds")) || 30;
  var percent = function (share) {
    return share === null ? "\u2013" : Math.round(100 * share) + "%";
  };
  var refresh = function () {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        data.cells.concat(data.totals || []).forEach(function (cell) {
          var row = table.querySelector('tr[data-cell="' + cell.stratum + "|" + cell.group + '"]');
          if (!row) { return; }
          row.querySelector("[data-field=target]").textContent = cell.target;
          row.querySelector("[data-field=issued]").textContent = cell.issued;
          row.querySelector("[data-field=answered]").textContent = cell.answered;
          row.querySelector("[data-field=completion]").textContent = percent(cell.completion);
          row.querySelector("[data-field=response_rate]").textContent = percent(cell.response_rate);
          row.classList.toggle("lagging", cell.lagging);
        });
      })
      .catch(function () { /* the next round tries again */ });
  };
  window.setInterval(refresh, seconds * 1000);
})();
