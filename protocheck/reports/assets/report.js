(function () {
  "use strict";
  function cellValue(row, idx) {
    var c = row.cells[idx];
    if (!c) { return ""; }
    var k = c.getAttribute("data-sort");
    return k !== null ? k : c.textContent.trim();
  }
  function compare(a, b) {
    var x = parseFloat(a), y = parseFloat(b);
    var numeric = !isNaN(x) && !isNaN(y) && /^-?[0-9.]/.test(a) && /^-?[0-9.]/.test(b);
    if (numeric) { return x - y; }
    return a.localeCompare(b, undefined, {numeric: true, sensitivity: "base"});
  }
  function makeSortable(table) {
    var head = table.tHead;
    if (!head || !head.rows.length) { return; }
    var ths = head.rows[0].cells;
    Array.prototype.forEach.call(ths, function (th, idx) {
      th.setAttribute("tabindex", "0");
      th.setAttribute("title", "Sort by this column");
      function sort() {
        var body = table.tBodies[0];
        if (!body) { return; }
        var asc = !th.classList.contains("asc");
        Array.prototype.forEach.call(ths, function (o) { o.classList.remove("asc", "desc"); });
        th.classList.add(asc ? "asc" : "desc");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var d = compare(cellValue(r1, idx), cellValue(r2, idx));
          return asc ? d : -d;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
    });
  }
  function makeFilterable(table) {
    var input = document.createElement("input");
    input.type = "search";
    input.className = "filter";
    input.placeholder = "Filter rows (type any text)\u2026";
    input.setAttribute("aria-label", "Filter table rows");
    table.parentNode.insertBefore(input, table);
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      var body = table.tBodies[0];
      if (!body) { return; }
      Array.prototype.forEach.call(body.rows, function (r) {
        var show = !q || r.textContent.toLowerCase().indexOf(q) >= 0;
        r.style.display = show ? "" : "none";
        r.classList.toggle("hidden", !show);
      });
    });
  }
  function csvCell(text) {
    var t = text.replace(/\s+/g, " ").trim();
    if (/^[=+\-@\t\r]/.test(t)) { t = "'" + t; }          // a spreadsheet must not run a cell as a formula
    return /[",\n]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
  }
  function tableCsv(table) {
    var lines = [];
    Array.prototype.forEach.call(table.rows, function (r) {
      if (r.classList.contains("hidden")) { return; }
      lines.push(Array.prototype.map.call(r.cells, function (c) { return csvCell(c.textContent); }).join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }
  function addCsvLink(table, i) {
    var a = document.createElement("a");
    a.className = "csv noprint";
    a.textContent = "Download CSV";
    a.href = "#";
    a.setAttribute("download", (table.id || "table-" + (i + 1)) + ".csv");
    a.addEventListener("click", function () {          // the rows as shown (sorted, filtered)
      a.href = "data:text/csv;charset=utf-8," + encodeURIComponent("\ufeff" + tableCsv(table));
    });
    table.parentNode.insertBefore(a, table);
  }
  function openTarget() {
    var id = decodeURIComponent((location.hash || "").slice(1));
    var el = id ? document.getElementById(id) : null;
    if (el && el.tagName === "DETAILS") { el.open = true; el.scrollIntoView(); }
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);
    Array.prototype.forEach.call(document.querySelectorAll("table.filterable"), makeFilterable);
    Array.prototype.forEach.call(document.querySelectorAll("main table"), addCsvLink);
    window.addEventListener("hashchange", openTarget);
    openTarget();
    document.documentElement.setAttribute("data-ready", "1");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else { init(); }
}());
