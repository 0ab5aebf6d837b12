/*
 * Live release events for a page: window.PaasLive.watchRelease(releaseId, lastSeq, onEvent, options).
 *
 * A release's events are numbered 1, 2, 3 ... without gaps (ReleaseEvent.seq). The page renders
 * its snapshot with the number of the last event it includes (lastSeq); from then on onEvent is
 * called exactly once per event, in seq order, from lastSeq + 1, never skipping one:
 *   - events arriving out of order wait until the ones before them are there;
 *   - a duplicate (a replay overlapping live delivery) is dropped;
 *   - a gap is filled: from options.eventsUrl (GET ?after=<seq> answering
 *     {"events": [...], "head": n} or a bare list) when the page has one, else over the socket;
 *   - after a reconnect the subscription is renewed with the last applied seq, and the server
 *     replays what was missed;
 *   - while live updates are unavailable (no socket, Redis down, signed out) eventsUrl is polled
 *     every options.pollMs (5 s), so the page still follows the release.
 *
 * The socket belongs to notifications.js (loaded after this file on every page): it hands this
 * file the frames of "release.<id>" streams (PaasLive.frame) and sends ours (PaasSocket.send).
 * Wire protocol: {"type": "subscribe", "stream": "release.<id>", "after": n} -> the events after
 * n, then {"type": "subscribed", "head": h}; {"type": "unsubscribed", "reason": "access"} when
 * the user may not (or no longer) watch it, which looks the same as a release that does not
 * exist; "reset" when too far behind for a replay.
 *
 * options.onStatus(status): "connecting" | "live" | "offline" | "denied"; eventsUrl is polled
 * in every state but "live" and "denied".
 * options.onReset(): too far behind and no eventsUrl to catch up from: reload the page's data.
 * Each applied event is also dispatched as "paas:release-event" on document.body (detail: event).
 * Returns {stop(), lastSeq()}.
 */
(function () {
  "use strict";

  var POLL_MS = 5000;
  var RETRY_MS = 1000;
  var watches = {};  // stream -> watch

  function dispatch(name, detail) {
    if (document.body) { document.body.dispatchEvent(new CustomEvent(name, {detail: detail, bubbles: true})); }
  }

  function socketSend(frame) {
    return !!(window.PaasSocket && window.PaasSocket.send(frame));
  }

  function Watch(releaseId, lastSeq, onEvent, options) {
    this.id = releaseId;
    this.stream = "release." + releaseId;
    this.applied = lastSeq;
    this.onEvent = onEvent;
    this.options = options || {};
    this.pending = {};  // seq -> event that came before the ones preceding it
    this.status = "";
    this.fetching = false;
    this.stopped = false;
    this.pollTimer = null;
    this.retryTimer = null;
  }

  Watch.prototype.setStatus = function (status) {
    if (status === this.status) { return; }
    this.status = status;
    if (status === "live" || status === "denied") { this.stopPolling(); } else { this.startPolling(); }
    if (typeof this.options.onStatus === "function") { this.options.onStatus(status); }
  };

  Watch.prototype.subscribe = function () {
    if (this.stopped || this.status === "denied") { return; }
    if (socketSend({type: "subscribe", stream: this.stream, after: this.applied})) {
      if (this.status !== "live") { this.setStatus("connecting"); }
    } else {
      // Before notifications.js has connected (it runs after the page's scripts) or without a socket.
      this.setStatus(this.status === "" && window.WebSocket ? "connecting" : "offline");
    }
  };

  Watch.prototype.accept = function (event) {
    if (this.stopped || !event || typeof event.seq !== "number" || event.seq <= this.applied) { return; }
    this.pending[event.seq] = event;
    while (this.pending[this.applied + 1]) {
      var next = this.pending[this.applied + 1];
      delete this.pending[this.applied + 1];
      this.applied = next.seq;
      try {
        this.onEvent(next);
      } catch (error) {  // the page's bug must not stop the stream
        if (window.console) { window.console.error(error); }
      }
      dispatch("paas:release-event", next);
    }
    if (Object.keys(this.pending).length) { this.fill(); }
  };

  Watch.prototype.behind = function (head) {
    if (typeof head === "number" && head > this.applied) { this.fill(); }
  };

  // Fetch what is missing after this.applied: the page's JSON endpoint, else a replay over the socket.
  Watch.prototype.fill = function () {
    if (this.stopped || this.fetching) { return; }
    var url = this.options.eventsUrl;
    if (!url || !window.fetch) {
      socketSend({type: "subscribe", stream: this.stream, after: this.applied});
      return;
    }
    var self = this;
    var from = this.applied;
    this.fetching = true;
    window.fetch(url + (url.indexOf("?") === -1 ? "?" : "&") + "after=" + encodeURIComponent(from), {
      credentials: "same-origin", headers: {"Accept": "application/json"}
    }).then(function (response) {
      if (response.status === 403 || response.status === 404) { self.setStatus("denied"); return null; }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (body) {
      self.fetching = false;
      if (!body) { return; }
      var events = Array.isArray(body) ? body : (body.events || []);
      events.forEach(function (event) { self.accept(event); });
      var head = Array.isArray(body) ? null : body.head;
      // A bounded page of events, or still a hole: go on (unless nothing moved, then retry later).
      if ((typeof head === "number" && head > self.applied) || Object.keys(self.pending).length) {
        if (self.applied > from) { self.fill(); } else { self.retryLater(); }
      }
    }).catch(function () {
      self.fetching = false;
      self.retryLater();
    });
  };

  Watch.prototype.retryLater = function () {
    var self = this;
    if (this.retryTimer || this.stopped) { return; }
    this.retryTimer = window.setTimeout(function () { self.retryTimer = null; self.fill(); }, RETRY_MS);
  };

  Watch.prototype.startPolling = function () {
    var self = this;
    if (this.pollTimer || !this.options.eventsUrl || this.stopped) { return; }
    this.pollTimer = window.setInterval(function () { self.fill(); }, this.options.pollMs || POLL_MS);
    this.fill();  // at once: the socket may have dropped events on its way down
  };

  Watch.prototype.stopPolling = function () {
    if (this.pollTimer) { window.clearInterval(this.pollTimer); this.pollTimer = null; }
  };

  Watch.prototype.control = function (message) {
    if (message.type === "subscribed" || message.type === "resumed") {
      this.setStatus("live");
      this.behind(message.head);
    } else if (message.type === "unsubscribed") {
      if (message.reason === "request") { return; }
      this.setStatus(message.reason === "access" ? "denied" : "offline");
    } else if (message.type === "reset") {
      this.setStatus("live");  // subscribed, but too far behind for a replay over the socket
      if (this.options.eventsUrl) {
        this.fill();
      } else if (typeof this.options.onReset === "function") {
        this.options.onReset();
      }
    }
  };

  Watch.prototype.stop = function () {
    this.stopped = true;
    this.stopPolling();
    if (this.retryTimer) { window.clearTimeout(this.retryTimer); this.retryTimer = null; }
    if (watches[this.stream] === this) { delete watches[this.stream]; }
    socketSend({type: "unsubscribe", stream: this.stream});
  };

  function frame(message) {
    var watch = watches[message.stream];
    if (!watch) { return; }
    if (typeof message.seq === "number" && message.type !== "subscribed" && message.type !== "resumed") {
      watch.accept(message);
    } else {
      watch.control(message);
    }
  }

  function each(fn) {
    Object.keys(watches).forEach(function (stream) { fn(watches[stream]); });
  }

  function listen() {
    document.body.addEventListener("paas:hello", function () { each(function (w) { w.subscribe(); }); });
    document.body.addEventListener("paas:socket", function () {
      each(function (w) { if (w.status !== "denied") { w.setStatus("offline"); } });
    });
    document.body.addEventListener("paas:live", function (domEvent) {
      if (domEvent.detail && domEvent.detail.available === false) {
        each(function (w) { if (w.status !== "denied") { w.setStatus("offline"); } });
      }
    });
  }

  function watchRelease(releaseId, lastSeq, onEvent, options) {
    var id = parseInt(releaseId, 10);
    if (!(id > 0) || typeof onEvent !== "function") { throw new Error("watchRelease(id, lastSeq, onEvent)"); }
    var stream = "release." + id;
    if (watches[stream]) { watches[stream].stop(); }
    var watch = watches[stream] = new Watch(id, parseInt(lastSeq, 10) || 0, onEvent, options);
    watch.subscribe();  // no socket yet (notifications.js runs later): "paas:hello" subscribes
    return {
      stop: function () { watch.stop(); },
      lastSeq: function () { return watch.applied; }
    };
  }

  if (document.body) {
    listen();
  } else {
    document.addEventListener("DOMContentLoaded", listen);
  }
  window.PaasLive = {watchRelease: watchRelease, frame: frame};
}());
