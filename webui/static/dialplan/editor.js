// Dialplan editor: line numbers, Ctrl/Cmd+S to check and save, jump to a finding's line,
// a warning before leaving with unsaved changes. Plain textarea underneath: works without JS.
(function () {
  "use strict";
  var form = document.getElementById("dp-form");
  var text = document.getElementById("dp-text");
  if (!form || !text) { return; }
  var gutter = form.querySelector(".dp-gutter");
  var pos = form.querySelector(".dp-pos");
  var original = text.value;
  var submitting = false;

  function lineCount() { return text.value.split("\n").length; }

  function renderGutter() {
    var n = lineCount(), out = [];
    for (var i = 1; i <= n; i++) { out.push(i); }
    gutter.textContent = out.join("\n");
    gutter.scrollTop = text.scrollTop;
  }

  function showPosition() {
    var before = text.value.slice(0, text.selectionStart).split("\n");
    pos.textContent = "line " + before.length + ", column " + (before[before.length - 1].length + 1);
  }

  function goToLine(line) {
    var lines = text.value.split("\n");
    var target = Math.max(1, Math.min(line, lines.length));
    var start = 0;
    for (var i = 0; i < target - 1; i++) { start += lines[i].length + 1; }
    text.focus();
    text.setSelectionRange(start, start + lines[target - 1].length);
    var lineHeight = parseFloat(getComputedStyle(text).lineHeight) || 18;
    text.scrollTop = Math.max(0, (target - 5) * lineHeight);
    showPosition();
  }

  text.addEventListener("input", renderGutter);
  text.addEventListener("scroll", function () { gutter.scrollTop = text.scrollTop; });
  ["keyup", "click", "select"].forEach(function (ev) { text.addEventListener(ev, showPosition); });

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && (event.key === "s" || event.key === "S")) {
      event.preventDefault();
      submitting = true;
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", function () { submitting = true; });
  window.addEventListener("beforeunload", function (event) {
    if (!submitting && text.value !== original) { event.preventDefault(); event.returnValue = ""; }
  });

  document.querySelectorAll(".dp-jump").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var line = parseInt(link.getAttribute("data-line"), 10);
      if (line > 0) { event.preventDefault(); goToLine(line); }
    });
  });

  renderGutter();
})();
