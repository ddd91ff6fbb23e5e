/* Sorts a table[data-sortable] in place when a header's sort link is clicked, the same way the
   server sorts it for ?sort=...&dir=... (leaderboard/tables.py), so the page works without
   JavaScript too. Numbers sort as numbers (a cell's data-sort, else the number its text starts
   with); empty cells ("—") go last either way; ties keep the ranking's order (data-rank). */
(function () {
  "use strict";

  function key(row, index, column) {
    if (column === "rank") { return Number(row.dataset.rank); }
    var cell = row.cells[index];
    if (!cell) { return null; }
    if (column === "method") { return cell.textContent.trim().toLowerCase(); }
    var raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
    var value = parseFloat(raw.replace(/,/g, ""));
    return isNaN(value) ? null : value;
  }

  function sortBy(table, link) {
    var params = new URLSearchParams(link.search);
    var applied = "?" + params.toString() + "#ranking";
    var column = params.get("sort"), descending = params.get("dir") === "desc";
    var th = link.closest("th");
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).filter(function (r) { return r.dataset.rank !== undefined; });
    rows.sort(function (a, b) {
      var x = key(a, index, column), y = key(b, index, column);
      if (x === null || y === null) {
        if (x === y) { return Number(a.dataset.rank) - Number(b.dataset.rank); }
        return x === null ? 1 : -1;
      }
      var order = x < y ? -1 : x > y ? 1 : Number(a.dataset.rank) - Number(b.dataset.rank);
      return descending && x !== y ? -order : order;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    // Headers: this column's link now flips the direction; the others start from their default.
    table.querySelectorAll("thead th").forEach(function (h) {
      var a = h.querySelector("a.sort");
      if (!a) { return; }
      var p = new URLSearchParams(a.search);
      if (h === th) {
        h.setAttribute("aria-sort", descending ? "descending" : "ascending");
        p.set("dir", descending ? "asc" : "desc");
      } else {
        h.setAttribute("aria-sort", "none");
        p.set("dir", p.get("sort") === "rank" || p.get("sort") === "method" ? "asc" : "desc");
      }
      a.search = p.toString();
    });
    if (window.history && history.replaceState) {  // a reload or a shared link keeps the order
      history.replaceState(null, "", applied);
    }
  }

  document.querySelectorAll("table[data-sortable]").forEach(function (table) {
    table.querySelectorAll("thead a.sort").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        sortBy(table, link);
      });
    });
  });
})();
