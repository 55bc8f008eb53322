// The agent desktop link: CTI telephone and availability in the top bar, the agent
// websocket (with reconnect), and the screen pop (one contact: open it; several: the
// chooser; none: the unknown-caller card). Plain JS, no inline code, no eval (CSP).
(function () {
  "use strict";

  var root = document.getElementById("desk");
  if (!root) { return; }

  var els = {
    cti: document.getElementById("desk-cti"),
    ctiLabel: document.getElementById("desk-cti-label"),
    state: document.getElementById("desk-state"),
    controls: document.getElementById("desk-controls"),
    availability: document.getElementById("desk-availability"),
    preference: document.getElementById("desk-pop-preference"),
    call: document.getElementById("desk-call"),
    link: document.getElementById("desk-link"),
    linkLabel: document.getElementById("desk-link-label"),
    error: document.getElementById("desk-error"),
    chooser: document.getElementById("desk-chooser"),
    chooserNumber: document.getElementById("desk-chooser-number"),
    chooserList: document.getElementById("desk-chooser-list"),
    unknown: document.getElementById("desk-unknown"),
    unknownNumber: document.getElementById("desk-unknown-number"),
    logPerson: document.getElementById("desk-log-person"),
    logCompany: document.getElementById("desk-log-company"),
  };

  var STATE_TEXT = {
    logged_out: "Logged out", ready: "Ready", not_ready: "Not ready",
    ringing: "Ringing", on_call: "On call", wrap_up: "Wrap-up",
  };
  var PING_EVERY = 30000;
  var PONG_WITHIN = 10000;
  var POPPED_KEY = "callcontrol.desk.popped";

  var socket = null;
  var retry = 0;
  var agent = {state: "logged_out", pop_preference: "ring"};
  var calls = {};          // call_id -> latest pop message of an active call
  var openDialog = null;   // {el, callId, returnFocus}
  var pingTimer = null;
  var pongTimer = null;

  // --- pops already shown by this tab (survives the navigation a pop causes) ------------

  function popped() {
    try { return JSON.parse(sessionStorage.getItem(POPPED_KEY) || "[]"); }
    catch (e) { return []; }
  }
  function markPopped(callId) {
    var list = popped().filter(function (c) { return c !== callId; });
    list.push(callId);
    try { sessionStorage.setItem(POPPED_KEY, JSON.stringify(list.slice(-50))); }
    catch (e) { /* private mode: at worst a replay pops again */ }
  }

  // --- the socket -----------------------------------------------------------------------

  function url() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/ws";
  }

  function connect() {
    setLink("connecting");
    socket = new WebSocket(url());
    socket.addEventListener("open", function () {
      retry = 0;
      setLink("up");
      schedulePing();
    });
    socket.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message && typeof message.type === "string") { receive(message); }
    });
    socket.addEventListener("close", function (event) {
      clearTimeout(pingTimer);
      clearTimeout(pongTimer);
      setLink("down");
      if (event.code === 1008) {  // policy: the account was deactivated; do not hammer
        showError("Your account can no longer receive calls; sign in again.");
        return;
      }
      // Back off, with jitter so a restarted server is not hit by every tab at once.
      var wait = Math.min(10000, 500 * Math.pow(2, retry++)) * (0.5 + Math.random() / 2);
      setTimeout(connect, wait);
    });
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return true;
    }
    showError("Not connected to the server; retrying.");
    return false;
  }

  function schedulePing() {
    clearTimeout(pingTimer);
    pingTimer = setTimeout(function () {
      if (!send({type: "ping"})) { return; }
      // A socket that no longer answers is closed so the reconnect starts.
      pongTimer = setTimeout(function () { if (socket) { socket.close(); } }, PONG_WITHIN);
    }, PING_EVERY);
  }

  function setLink(status) {
    els.link.setAttribute("data-link", status);
    var text = {connecting: "connecting", up: "connected", down: "disconnected, retrying"}[status];
    els.link.title = "Server link: " + text;
    els.linkLabel.textContent = "Server link " + text;
  }

  // --- messages from the server ---------------------------------------------------------

  function receive(message) {
    document.dispatchEvent(new CustomEvent("desk:message", {detail: message}));  // for page scripts (calls.js)
    switch (message.type) {
      case "hello": if (message.agent) { showAgent(message.agent); } forgetMissedEnds(); break;
      case "agent.state": showAgent(message); break;
      case "agent.pop_preference": agent.pop_preference = message.preference; showAgent(agent); break;
      case "call.ringing": onRinging(message); break;
      case "call.answered": onAnswered(message); break;
      case "call.ended": case "pop.closed": onGone(message); break;
      case "pong": clearTimeout(pongTimer); schedulePing(); break;
      case "error": showError(message.message || "The server refused that."); break;
    }
  }

  function showAgent(status) {
    agent = Object.assign({}, agent, status);
    var state = agent.state;
    var loggedIn = state !== "logged_out";
    var text = STATE_TEXT[state] || state;
    if (state === "not_ready" && agent.reason) { text += ": " + agent.reason; }
    els.state.textContent = text;
    els.state.setAttribute("data-state", state);
    els.cti.setAttribute("data-state", state);
    els.cti.setAttribute("aria-pressed", loggedIn ? "true" : "false");
    els.cti.title = loggedIn ? "CTI logged in on " + (agent.extension || "?") + ": click to log out"
                             : "Log in to the CTI to receive calls";
    els.ctiLabel.textContent = loggedIn ? "CTI: log out" : "CTI: log in";
    els.controls.hidden = !loggedIn;
    els.availability.disabled = state === "ringing" || state === "on_call";
    // Any other state shows as a placeholder, so choosing "Ready" is a change (ends wrap-up).
    var current = document.getElementById("desk-availability-current");
    current.textContent = STATE_TEXT[state] || state;
    if (state !== "ready" && state !== "not_ready") { els.availability.value = ""; }
    if (state === "ready") { els.availability.value = "ready"; }
    if (state === "not_ready") {
      var value = "not_ready:" + (agent.reason || "");
      if (!els.availability.querySelector('option[value="' + cssEscape(value) + '"]')) {
        addOption(value, "Not ready: " + (agent.reason || ""));
      }
      els.availability.value = value;
    }
    if (agent.pop_preference) { els.preference.value = agent.pop_preference; }
  }

  function addOption(value, label) {
    var option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    els.availability.appendChild(option);
  }

  function cssEscape(value) {
    return window.CSS && CSS.escape ? CSS.escape(value) : value.replace(/["\\]/g, "\\$&");
  }

  // --- calls and pops -------------------------------------------------------------------

  // After a reconnect the server re-sends every active pop right after "hello"; a call we
  // still show but that is not re-sent ended while we were away (its end was missed).
  var REPLAY_WINDOW = 1500;
  var unconfirmed = {};
  function forgetMissedEnds() {
    unconfirmed = {};
    Object.keys(calls).forEach(function (id) { unconfirmed[id] = true; });
    setTimeout(function () {
      Object.keys(unconfirmed).forEach(function (id) { onGone({call_id: id}); });
      unconfirmed = {};
    }, REPLAY_WINDOW);
  }

  function onRinging(message) {
    delete unconfirmed[message.call_id];
    calls[message.call_id] = message;
    showCall(message, "Ringing");
    if (agent.pop_preference === "ring") { pop(message); }
  }

  function onAnswered(message) {
    delete unconfirmed[message.call_id];
    calls[message.call_id] = message;
    showCall(message, "On call");
    if (agent.pop_preference === "answer" || agent.pop_preference === "ring") { pop(message); }
  }

  function onGone(message) {
    delete calls[message.call_id];
    if (openDialog && openDialog.callId === message.call_id) { closeDialog(); }
    var left = Object.keys(calls);
    if (left.length) { showCall(calls[left[left.length - 1]], "Call"); }
    else { els.call.hidden = true; }
  }

  function callerText(message) {
    var caller = message.caller || {};
    return caller.number || caller.e164 || "unknown number";
  }

  function showCall(message, label) {
    var contacts = message.contacts || [];
    var who = contacts.length === 1 ? contacts[0].name : callerText(message);
    els.call.textContent = label + ": " + who;
    els.call.href = contacts.length === 1 ? contactUrl(contacts[0], message) : "#";
    els.call.hidden = false;
    els.call.onclick = contacts.length === 1 ? null : function (event) {
      event.preventDefault();
      pop(message, true);
    };
  }

  function contactUrl(contact, message) {
    return "/cc/contacts/" + encodeURIComponent(contact.id) +
      "?call=" + encodeURIComponent(message.call_id);
  }

  // Show the pop unless this tab (or, for replays, the agent) already has.
  function pop(message, force) {
    var seen = popped().indexOf(message.call_id) !== -1 || (message.replay && message.acked);
    if (seen && !force) { return; }
    markPopped(message.call_id);
    send({type: "pop.ack", call_id: message.call_id});
    var contacts = message.contacts || [];
    if (contacts.length === 1) {
      var target = contactUrl(contacts[0], message);
      if (location.pathname + location.search !== target) { location.assign(target); }
    } else if (contacts.length > 1) {
      openChooser(message);
    } else {
      openUnknown(message);
    }
  }

  function openChooser(message) {
    var list = els.chooserList;
    list.textContent = "";
    els.chooserNumber.textContent = "Caller: " + callerText(message);
    message.contacts.forEach(function (contact, index) {
      var item = document.createElement("li");
      item.className = "desk-choice";
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", index === 0 ? "true" : "false");
      item.tabIndex = index === 0 ? 0 : -1;
      item.dataset.href = contactUrl(contact, message);
      var name = document.createElement("span");
      name.className = "desk-choice-name";
      name.textContent = contact.name || contact.code;
      var meta = document.createElement("span");
      meta.className = "desk-choice-meta muted";
      meta.textContent = summaryText(contact);
      item.appendChild(name);
      item.appendChild(meta);
      (contact.summary && contact.summary.flash_notes || []).forEach(function (note) {
        var flash = document.createElement("span");
        flash.className = "desk-flash";
        flash.textContent = note;
        item.appendChild(flash);
      });
      item.addEventListener("click", function () { choose(item); });
      list.appendChild(item);
    });
    showDialog(els.chooser, message.call_id, list.firstElementChild);
  }

  function summaryText(contact) {
    var s = contact.summary || {};
    var parts = [contact.code, contact.kind === "company" ? "company" : "person"];
    if (contact.vip) { parts.push("VIP"); }
    parts.push((s.open_service_requests || 0) + " open service request" +
               (s.open_service_requests === 1 ? "" : "s"));
    if (s.balance_due && Number(s.balance_due) !== 0) {
      parts.push("balance due " + s.balance_due + (s.currency ? " " + s.currency : ""));
    }
    return parts.join(" · ");
  }

  function choose(item) {
    var href = item.dataset.href;
    closeDialog();
    location.assign(href);
  }

  function openUnknown(message) {
    var caller = message.caller || {};
    var phone = caller.e164 || caller.number || "";
    els.unknownNumber.textContent = "Caller: " + callerText(message) +
      (caller.e164 && caller.e164 !== caller.number ? " (" + caller.e164 + ")" : "");
    var query = "?phone=" + encodeURIComponent(phone) + "&call=" + encodeURIComponent(message.call_id);
    els.logPerson.href = "/cc/actions/log-person" + query;
    els.logCompany.href = "/cc/actions/log-company" + query;
    showDialog(els.unknown, message.call_id, els.logPerson);
  }

  // --- the modal: focus trapped inside, Esc closes, focus returns where it was ---------

  function showDialog(el, callId, focusEl) {
    if (openDialog) { closeDialog(); }
    openDialog = {el: el, callId: callId, returnFocus: document.activeElement};
    el.hidden = false;
    document.body.classList.add("desk-modal-open");
    (focusEl || el.querySelector("button")).focus();
  }

  function closeDialog() {
    if (!openDialog) { return; }
    var dialog = openDialog;
    openDialog = null;
    dialog.el.hidden = true;
    document.body.classList.remove("desk-modal-open");
    if (dialog.returnFocus && dialog.returnFocus.focus) { dialog.returnFocus.focus(); }
  }

  function focusables(el) {
    return Array.prototype.filter.call(
      el.querySelectorAll('a[href], button:not([disabled]), [tabindex="0"]'),
      function (node) { return !node.hidden && node.offsetParent !== null; });
  }

  function moveChoice(step) {
    var items = Array.prototype.slice.call(els.chooserList.children);
    var current = items.indexOf(document.activeElement);
    var next = items[(Math.max(current, 0) + step + items.length) % items.length];
    items.forEach(function (item) {
      item.setAttribute("aria-selected", item === next ? "true" : "false");
      item.tabIndex = item === next ? 0 : -1;
    });
    next.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (!openDialog) { return; }
    var el = openDialog.el;
    if (event.key === "Escape") { event.preventDefault(); closeDialog(); return; }
    if (el === els.chooser && els.chooserList.contains(document.activeElement)) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        moveChoice(event.key === "ArrowDown" ? 1 : -1);
        return;
      }
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        choose(document.activeElement);
        return;
      }
    }
    if (event.key === "Tab") {
      var nodes = focusables(el);
      if (!nodes.length) { return; }
      var first = nodes[0];
      var last = nodes[nodes.length - 1];
      if (event.shiftKey && (document.activeElement === first || !el.contains(document.activeElement))) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (document.activeElement === last || !el.contains(document.activeElement))) {
        event.preventDefault();
        first.focus();
      }
    }
  });

  [els.chooser, els.unknown].forEach(function (modal) {
    modal.addEventListener("click", function (event) {
      if (event.target === modal || event.target.hasAttribute("data-desk-close")) { closeDialog(); }
    });
  });

  // --- the agent's controls -------------------------------------------------------------

  els.cti.addEventListener("click", function () {
    send({type: agent.state === "logged_out" ? "agent.cti_login" : "agent.cti_logout"});
  });

  els.availability.addEventListener("change", function () {
    var parts = els.availability.value.split(":");
    var message = {type: "agent.state", state: parts[0]};
    if (parts[0] === "not_ready") { message.reason = parts.slice(1).join(":") || "not ready"; }
    send(message);
  });

  els.preference.addEventListener("change", function () {
    send({type: "agent.pop_preference", preference: els.preference.value});
  });

  var errorTimer = null;
  function showError(text) {
    els.error.textContent = text;
    els.error.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(function () { els.error.hidden = true; }, 6000);
  }

  connect();
})();
