// Site-wide behaviour. No inline scripts anywhere: the Content-Security-Policy is 'self' only.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the session's CSRF token (the server checks it on non-GET).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // A failed htmx request is never silent: its message (JSON "message", or the page's
  // heading) appears as a toast that stays until dismissed or replaced.
  function toast(text) {
    var area = document.getElementById("toasts");
    if (!area) { return; }
    var item = document.createElement("div");
    item.className = "toast";
    var message = document.createElement("span");
    message.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "\u00d7";
    close.addEventListener("click", function () { item.remove(); });
    item.append(message, close);
    area.replaceChildren(item);
  }

  function messageOf(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    try {
      if (type.indexOf("application/json") === 0) {
        var data = JSON.parse(xhr.responseText);
        if (data && data.message) { return data.message; }
      } else if (type.indexOf("text/html") === 0) {
        var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var detail = doc.querySelector(".error-page p:not(.error-status)");
        if (detail && detail.textContent.trim()) { return detail.textContent.trim(); }
      }
    } catch (e) { /* fall through to the status line */ }
    return "The request failed (" + xhr.status + " " + xhr.statusText + ").";
  }

  document.addEventListener("htmx:responseError", function (event) {
    toast(messageOf(event.detail.xhr));
  });
  document.addEventListener("htmx:sendError", function () {
    toast("The server cannot be reached. Check the connection and try again.");
  });

  // For page scripts that use fetch(): same token, same-origin cookies, JSON in and out.
  async function postJson(url, body) {
    var response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrfToken()},
      body: JSON.stringify(body === undefined ? {} : body),
    });
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      var error = new Error((data && data.message) || response.statusText);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  window.callcontrol = Object.freeze({csrfToken: csrfToken, postJson: postJson, toast: toast});
})();
