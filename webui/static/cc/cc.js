// Communication Centre page behaviour. Plain JS, no inline handlers (the CSP is 'self' only).
(function () {
  "use strict";

  // "/" jumps to the quick-search box from anywhere that is not already a text field.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var tag = target && target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) {
      return;
    }
    var box = document.getElementById("q");
    if (box) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });

  // Life-cycle tabs (WAI-ARIA tabs): click, or arrow keys / Home / End on the tab list.
  function select(tab) {
    var list = tab.closest("[role=tablist]");
    var tabs = list.querySelectorAll("[role=tab]");
    tabs.forEach(function (other) {
      var chosen = other === tab;
      other.setAttribute("aria-selected", chosen ? "true" : "false");
      other.tabIndex = chosen ? 0 : -1;
      var panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) panel.hidden = !chosen;
    });
    tab.focus();
  }

  document.addEventListener("click", function (event) {
    var tab = event.target.closest && event.target.closest("[role=tab]");
    if (tab) select(tab);
  });

  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest("[role=tab]");
    if (!tab) return;
    var tabs = Array.prototype.slice.call(
      tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    var index = tabs.indexOf(tab);
    var next = {ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1}[
      event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[(next + tabs.length) % tabs.length]);
  });

  // After an htmx search, move focus to the first result so keyboard users land on it.
  // (With an outerHTML swap the event's target is the replaced node: look the new one up.)
  document.addEventListener("htmx:afterSettle", function (event) {
    var config = event.detail && event.detail.requestConfig;
    var source = config && config.elt;
    if (!source || source.getAttribute("hx-target") !== "#results") return;
    var results = document.getElementById("results");
    var first = results && results.querySelector("a.cc-hit");
    if (first) first.focus();
  });
})();
