// The decision-matrix page (issue 17): re-orders the candidate drugs by the patient preferences
// ticked, in this browser only — nothing is sent. Each candidate carries the matrix's arrow per
// preference (data-prefs="ID:ARROW ..."); a ticked preference adds ↑↑ +2, ↑ +1, 0 0, ↓ -1, ↓↓ -2. Drugs with a
// ↓ or ↓↓ for this patient stay below the others. Preferences may also be given in the address,
// `#prefs=oral,fast-itch-relief`: they are ticked on load (and the address follows the ticks), so
// a page printed or opened again shows the same order.
(function () {
  "use strict";
  var VALUES = { "\u2191\u2191": 2, "\u2191": 1, "0": 0, "\u2193": -1, "\u2193\u2193": -2 };

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("input[data-pref]"));
  }

  function ticked() {
    return boxes().filter(function (b) { return b.checked; }).map(function (b) { return b.getAttribute("data-pref"); });
  }

  function reorder() {
    var list = document.getElementById("candidates");
    if (!list) { return; }
    var prefs = ticked();
    var items = Array.prototype.slice.call(list.children);
    items.forEach(function (li) {
      var arrows = {};
      (li.getAttribute("data-prefs") || "").split(" ").forEach(function (pair) {
        var at = pair.indexOf(":");
        if (at > 0) { arrows[pair.slice(0, at)] = pair.slice(at + 1); }
      });
      var score = 0;
      prefs.forEach(function (p) {
        var arrow = arrows[p];
        if (Object.prototype.hasOwnProperty.call(VALUES, arrow)) { score += VALUES[arrow]; }
      });
      li.setAttribute("data-score", String(score));
      var shown = li.querySelector(".score");
      if (shown) { shown.textContent = prefs.length ? (score > 0 ? "+" + score : String(score)) : ""; }
    });
    items.sort(function (a, b) {
      var againstA = a.getAttribute("data-against") === "true";
      var againstB = b.getAttribute("data-against") === "true";
      if (againstA !== againstB) { return againstA ? 1 : -1; }
      var byScore = Number(b.getAttribute("data-score")) - Number(a.getAttribute("data-score"));
      if (byScore !== 0) { return byScore; }
      return Number(a.getAttribute("data-index")) - Number(b.getAttribute("data-index"));
    });
    items.forEach(function (li) { list.appendChild(li); });
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", prefs.length ? "#prefs=" + prefs.join(",") : window.location.pathname + window.location.search);
    }
  }

  function fromAddress() {
    var match = /(?:^#|&)prefs=([^&]*)/.exec(window.location.hash);
    if (!match) { return; }
    var wanted = decodeURIComponent(match[1]).split(",");
    boxes().forEach(function (b) { b.checked = wanted.indexOf(b.getAttribute("data-pref")) >= 0; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    fromAddress();
    boxes().forEach(function (b) { b.addEventListener("change", reorder); });
    reorder();
  });
}());
