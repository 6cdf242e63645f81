// The decision-matrix page (issue 17): re-orders the candidate drugs by the matrix's arrows, in
// this browser only — nothing is sent. Each candidate starts from the arrows of the rows that apply
// to the patient (data-base, added up by the service: ↑↑ +2, ↑ +1, 0 0, ↓ -1, ↓↓ -2) and carries
// the arrow of each preference row (data-prefs="ID:ARROW ..."); every ticked preference adds its
// arrow the same way. A drug with a ↓↓ for this patient (data-strongly-against) stays last; ties
// keep the matrix's column order. Preferences may also be given in the address,
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
      var score = Number(li.getAttribute("data-base")) || 0;
      prefs.forEach(function (p) {
        var arrow = arrows[p];
        if (Object.prototype.hasOwnProperty.call(VALUES, arrow)) { score += VALUES[arrow]; }
      });
      li.setAttribute("data-score", String(score));
      var shown = li.querySelector(".score");
      if (shown) { shown.textContent = score > 0 ? "+" + score : String(score); }
    });
    items.sort(function (a, b) {
      var againstA = a.getAttribute("data-strongly-against") === "true";
      var againstB = b.getAttribute("data-strongly-against") === "true";
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
