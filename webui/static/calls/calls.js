// Call controls in the contact view's current-call banner, click-to-call buttons, and the
// supervisor wallboard's listen/whisper buttons. Plain JS over /api/v1/calls; no inline code
// (CSP). The call's state follows the API's answers, the desk websocket's messages (the
// "desk:message" event desk.js dispatches) and, as a safety net, a poll every 2 s.
(function () {
  "use strict";

  if (window.callcontrolCalls) { return; }   // several partials may load this script
  window.callcontrolCalls = true;

  // The poll is only a safety net behind the websocket; a page may lengthen it (tests do,
  // to show the websocket alone keeps the banner in sync).
  var POLL_EVERY = Number(window.callcontrolCallsPollMs) || 2000;

  function api() { return window.callcontrol; }

  function callUrl(callId, action) {
    return "/api/v1/calls/" + encodeURIComponent(callId) + (action ? "/" + action : "");
  }

  async function getJson(url) {
    var response = await fetch(url, {credentials: "same-origin",
                                     headers: {"Accept": "application/json"}});
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      var error = new Error((data && data.message) || response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function errorText(error) {
    if (error && error.status === 403) { return "Not allowed: " + error.message; }
    if (error && error.status === 409) { return "Not possible now: " + error.message; }
    if (error && error.status) { return error.message || ("The request failed (" + error.status + ")."); }
    return "The server cannot be reached. Check the connection and try again.";
  }

  // --- the current-call banner ----------------------------------------------------------

  var STATE_TEXT = {
    "new": "Call starting", queued: "Caller waiting", ringing: "Ringing",
    dialing: "Dialling the customer", connected: "Connected", message: "Playing a message",
    ending: "Call ending", ended: "Call ended",
  };

  function Banner(el) {
    this.el = el;
    this.callId = el.getAttribute("data-call-id");
    this.call = null;
    this.ended = false;
    this.busy = false;
    this.timer = null;
    this.$ = function (id) { return document.getElementById(id); };
    this.buttons = {
      hold: this.$("calls-hold"), mute: this.$("calls-mute"),
      recording: this.$("calls-recording"), transfer: this.$("calls-transfer-open"),
      hangup: this.$("calls-hangup"),
    };
    this.bind();
    this.refresh();
  }

  Banner.prototype.bind = function () {
    var self = this;
    ["hold", "mute", "recording", "hangup"].forEach(function (name) {
      self.buttons[name].addEventListener("click", function () {
        self.act(self.buttons[name].getAttribute("data-action"));
      });
    });
    var form = this.$("calls-transfer");
    this.buttons.transfer.addEventListener("click", function () {
      self.toggleTransfer(form.hidden);
    });
    this.$("calls-transfer-cancel").addEventListener("click", function () {
      self.toggleTransfer(false);
      self.buttons.transfer.focus();
    });
    this.$("calls-transfer-agent").addEventListener("change", function (event) {
      if (event.target.value) { self.$("calls-transfer-extension").value = event.target.value; }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var extension = self.$("calls-transfer-extension").value.trim();
      if (!/^[0-9*#+]{1,20}$/.test(extension)) {
        self.showError("Choose a ready agent or type the extension to transfer to (digits).");
        self.$("calls-transfer-extension").focus();
        return;
      }
      self.act("transfer", {extension: extension}).then(function (ok) {
        if (ok) { self.toggleTransfer(false); }
      });
    });
    document.addEventListener("keydown", function (event) {
      if (!event.altKey || event.ctrlKey || event.metaKey) { return; }
      var key = (event.key || "").toLowerCase();
      var target = {h: "hold", m: "mute", r: "recording", t: "transfer"}[key];
      if (!target) { return; }
      var button = self.buttons[target];
      if (button.disabled) { return; }
      event.preventDefault();
      button.focus();
      button.click();
    });
    document.addEventListener("desk:message", function (event) {
      var message = event.detail || {};
      if (message.call_id !== self.callId) { return; }
      self.refresh();
    });
  };

  Banner.prototype.toggleTransfer = function (open) {
    var form = this.$("calls-transfer");
    form.hidden = !open;
    this.buttons.transfer.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      this.loadTargets();
      this.$("calls-transfer-agent").focus();
    }
  };

  Banner.prototype.loadTargets = function () {
    var select = this.$("calls-transfer-agent");
    var self = this;
    getJson("/calls/transfer-targets").then(function (data) {
      var keep = select.value;
      while (select.options.length > 1) { select.remove(1); }
      (data.agents || []).forEach(function (agent) {
        var option = document.createElement("option");
        option.value = agent.extension;
        option.textContent = agent.username + " (" + agent.extension + ")";
        select.appendChild(option);
      });
      select.options[0].textContent = data.agents && data.agents.length
        ? "(choose an agent)" : "(no agent is ready)";
      select.value = keep;
    }).catch(function (error) { self.showError(errorText(error)); });
  };

  Banner.prototype.schedule = function () {
    var self = this;
    clearTimeout(this.timer);
    if (this.ended) { return; }
    this.timer = setTimeout(function () { self.refresh(); }, POLL_EVERY);
  };

  Banner.prototype.refresh = function () {
    var self = this;
    // /calls/state answers 200 for an ended or foreign call (no console noise while polling)
    return getJson("/calls/state/" + encodeURIComponent(this.callId)).then(function (data) {
      if (data.call) { self.show(data.call); }
      else if (data.forbidden && self.call) {
        // it was ours: transferred away (or taken over)
        self.showEnded("The call is no longer yours: its controls are not available.");
      } else if (data.forbidden) {
        // not (yet) ours: an inbound call still ringing is nobody's until answered
        self.setState("Ringing: answer your phone to take the call");
        self.disableAll();
      } else if (data.ended) { self.showEnded(); }
      else { self.setState(data.message || "Call state unknown."); }
    }).catch(function (error) {
      if (error.status === 401 || error.status === 403) {
        self.showEnded("Sign in again to control this call.");
      } else {
        self.setState("Call state unknown: the server cannot be reached.");
      }
    }).finally(function () { self.schedule(); });
  };

  Banner.prototype.setState = function (text) { this.$("calls-state").textContent = text; };

  Banner.prototype.disableAll = function () {
    var b = this.buttons;
    Object.keys(b).forEach(function (name) { b[name].disabled = true; });
  };

  Banner.prototype.show = function (call) {
    this.call = call;
    if (this.ended && call.state !== "ended") {   // a late answer after a refused poll
      this.ended = false;
      this.schedule();
    }
    var connected = call.state === "connected";
    var what = call.direction === "outbound"
      ? "to " + (call.called || "the customer")
      : "from " + (call.e164 || call.caller || "unknown number");
    this.$("calls-what").textContent = (call.direction === "outbound" ? "Outbound call " : "Inbound call ") + what;
    this.setState(STATE_TEXT[call.state] || call.state);
    this.el.setAttribute("data-state", call.state);
    this.$("calls-held").hidden = !call.held;
    this.$("calls-muted").hidden = !call.muted;
    var paused = call.recording === "paused";
    this.$("calls-paused").hidden = !paused;
    this.el.classList.toggle("calls-banner-paused", paused);

    var b = this.buttons;
    b.hold.disabled = !connected || this.busy;
    b.hold.textContent = call.held ? "Resume call" : "Hold";
    b.hold.setAttribute("data-action", call.held ? "unhold" : "hold");
    b.hold.setAttribute("aria-pressed", call.held ? "true" : "false");
    b.hold.title = (call.held ? "Take the caller off hold" : "Hold: the caller hears music") + " (Alt+H)";

    b.mute.disabled = !connected || this.busy;
    b.mute.textContent = call.muted ? "Unmute" : "Mute";
    b.mute.setAttribute("data-action", call.muted ? "unmute" : "mute");
    b.mute.setAttribute("aria-pressed", call.muted ? "true" : "false");
    b.mute.title = (call.muted ? "Let the caller hear you again" : "Mute your microphone") + " (Alt+M)";

    var recordable = call.recording === "recording" || paused;
    b.recording.disabled = !connected || !recordable || this.busy;
    b.recording.textContent = paused ? "Resume recording" : (recordable ? "Pause recording" : "Not recording");
    b.recording.setAttribute("data-action", paused ? "recording/resume" : "recording/pause");
    b.recording.setAttribute("aria-pressed", paused ? "true" : "false");
    b.recording.title = (paused ? "Resume the recording" :
      "Pause the recording, e.g. while the caller gives card details") + " (Alt+R)";

    b.transfer.disabled = !connected || this.busy;
    if (!connected && !this.$("calls-transfer").hidden) { this.toggleTransfer(false); }
    b.hangup.disabled = this.busy || call.state === "ending" || call.state === "ended";
    if (call.state === "ended") { this.showEnded(); }
  };

  Banner.prototype.showEnded = function (text) {
    this.ended = true;
    clearTimeout(this.timer);
    this.setState(text || "Call ended");
    this.el.setAttribute("data-state", "ended");
    this.$("calls-held").hidden = true;
    this.$("calls-muted").hidden = true;
    this.$("calls-paused").hidden = true;
    this.el.classList.remove("calls-banner-paused");
    this.disableAll();
    this.$("calls-transfer").hidden = true;
  };

  Banner.prototype.act = function (action, body) {
    var self = this;
    if (this.busy) { return Promise.resolve(false); }
    this.busy = true;
    this.hideError();
    var focused = document.activeElement;
    return api().postJson(callUrl(this.callId, action), body || {}).then(function (call) {
      self.busy = false;
      self.show(call);
      return true;
    }).catch(function (error) {
      self.busy = false;
      self.showError(errorText(error));
      if (self.call) { self.show(self.call); }
      self.refresh();
      return false;
    }).finally(function () {
      // the button keeps the focus (its label changed, it was never removed)
      if (focused && focused.isConnected && !focused.disabled) { focused.focus(); }
    });
  };

  Banner.prototype.showError = function (text) {
    var el = this.$("calls-error");
    el.textContent = text;
    el.hidden = false;
  };

  Banner.prototype.hideError = function () { this.$("calls-error").hidden = true; };

  // --- click-to-call ---------------------------------------------------------------------

  function dial(button) {
    var number = button.getAttribute("data-calls-dial");
    var contactId = button.getAttribute("data-contact-id");
    button.disabled = true;
    var label = button.textContent;
    button.textContent = "Calling…";
    // the contact's default phone by contact id: call control then links the contact
    var body = contactId && button.hasAttribute("data-calls-by-contact")
      ? {contact_id: Number(contactId)} : {number: number};
    api().postJson("/api/v1/calls", body).then(function (call) {
      var target = contactId
        ? "/cc/contacts/" + encodeURIComponent(contactId) + "?call=" + encodeURIComponent(call.call_id)
        : null;
      // the contact view with the call's banner; the desk's outbound pop opens the same page
      if (target) { location.assign(target); }
      else { button.textContent = label; button.disabled = false; }
    }).catch(function (error) {
      button.textContent = label;
      button.disabled = false;
      var text = "Could not call " + number + ": " + errorText(error);
      if (api().toast) { api().toast(text); }
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-calls-dial]") : null;
    if (target && !target.disabled) { event.preventDefault(); dial(target); }
  });

  // --- the wallboard: listen / whisper / stop --------------------------------------------

  function wallboardError(text) {
    var el = document.getElementById("wallboard-error");
    if (!el) { return; }
    el.textContent = text || "";
    el.hidden = !text;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-supervise]") : null;
    if (!button || button.disabled) { return; }
    var mode = button.getAttribute("data-supervise");
    var callId = button.getAttribute("data-call-id");
    button.disabled = true;
    wallboardError("");
    var request = mode === "stop"
      ? api().postJson(callUrl(callId, "unsupervise"), {})
      : api().postJson(callUrl(callId, "supervise"), {mode: mode});
    request.then(function () {
      var board = document.getElementById("wallboard");
      if (board && window.htmx) { window.htmx.trigger(board, "refresh"); }
    }).catch(function (error) {
      button.disabled = false;
      wallboardError(errorText(error));
    });
  });

  // Keep the keyboard focus on the same button across the 2 s refreshes of the board.
  var focusedId = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    focusedId = active && active.id && event.detail.target.contains(active) ? active.id : null;
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (!focusedId) { return; }
    var again = document.getElementById(focusedId);
    if (again) { again.focus(); }
    focusedId = null;
  });

  function start() {
    var el = document.getElementById("calls-banner");
    if (el && el.getAttribute("data-call-id")) { new Banner(el); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
