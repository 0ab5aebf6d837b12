/*
 * Live notifications: a WebSocket to /ws/notifications/ for signed-in users, each
 * event shown as a Bootstrap toast in #toast-area. Reconnects with exponential
 * backoff (and jitter, so a restarted server is not hit by every tab at once).
 *
 * When the server reports that live updates are
 * unavailable (its channel layer, Redis, is down: message {"type": "unavailable"},
 * close code 4503), a notice is shown at the top of the page until a connection
 * says hello again.
 *
 * Streams (see README "Live events"): every event carries its stream ("tenant.12"),
 * its sequence number `seq` and `prev`, the seq of the previous event this connection
 * was sent on that stream. The client keeps the last seq per stream; when `prev` is
 * ahead of it (the server or the network lost something) or after a reconnect, it
 * sends {"type": "resume", "after": {stream: last}} and the server replays what was
 * missed ("resumed" ends the replay; "reset" means too much was missed: pages reload
 * their data on the "paas:reset" DOM event). Each event is handled once (deduplicated by
 * stream and seq) and dispatched as a "paas:event" CustomEvent on document.body (detail:
 * the event; it bubbles to document), so pages can update themselves (static/js/live.js).
 *
 * Toasts are for what people did: "alice updated federated resource web in acme/prod",
 * with a link to the object when the event carries its "url". Background work
 * (SILENT: status recomputes after syncs) only refreshes the page's live fragments.
 *
 * While the socket is down (lost, server restarting), #live-connection in the navbar says
 * "Live updates paused - reconnecting..."; when a connection says hello again it is hidden
 * and the page catches up: missed events are replayed (resume), or, when this page never
 * had a connection to resume from, "paas:reset" makes every live fragment reload once.
 *
 * Streams subscribed on request (a release: "release.<id>", see static/js/release-live.js) are
 * not this file's: their frames and control messages go to window.PaasLive.frame(), untouched
 * (no toast, no tracking here), and release-live.js talks to the server through
 * window.PaasSocket.send(). "paas:hello" (after every hello) and "paas:socket" ({open: false,
 * code} when the socket closes) tell it when to subscribe again.
 *
 * Event data is only ever inserted as text (textContent), never as HTML.
 * Labels are translated through Django's JavaScript catalog when the page loads it
 * (window.gettext); #toast-area may also carry data-title / data-tenant-label.
 */
(function () {
  "use strict";

  var body = document.body;
  if (!body || body.dataset.userAuthenticated !== "true" || !("WebSocket" in window)) {
    return;
  }

  var gettext = typeof window.gettext === "function" ? window.gettext : function (s) { return s; };
  var interpolate = typeof window.interpolate === "function"
    ? window.interpolate
    : function (fmt, obj) { return fmt.replace(/%\((\w+)\)s/g, function (_, key) { return obj[key]; }); };

  var MIN_DELAY_MS = 1000;
  var MAX_DELAY_MS = 60000;
  var PING_EVERY_MS = 25000;
  var MAX_TOASTS = 5;
  // Closed by the server on purpose (signed out / account deactivated): do not retry.
  var FINAL_CLOSE_CODES = [4401, 4403];
  var LAYER_DOWN_CODE = 4503;

  var LABELS = {
    "tenant.updated": gettext("Tenant updated"),
    "environment.created": gettext("Environment created"),
    "environment.updated": gettext("Environment updated"),
    "environment.deleted": gettext("Environment deleted"),
    "member.added": gettext("Member added"),
    "member.changed": gettext("Member role changed"),
    "member.removed": gettext("Member removed"),
    "quota.updated": gettext("Quota updated"),
    "quota_request.created": gettext("Quota request submitted"),
    "quota_request.approved": gettext("Quota request approved"),
    "quota_request.rejected": gettext("Quota request rejected"),
    "quota_request.cancelled": gettext("Quota request cancelled"),
    "token.expired": gettext("API token expired"),
    "cluster.registered": gettext("Cluster registered"),
    "cluster.removed": gettext("Cluster removed"),
    "cluster.cordon": gettext("Cluster cordoned"),
    "cluster.uncordon": gettext("Cluster uncordoned"),
    "cluster.propagation.pause": gettext("Propagation to cluster paused"),
    "cluster.propagation.resume": gettext("Propagation to cluster resumed"),
    "cluster.health": gettext("Cluster health changed"),
    "topology.cell.mark_failed": gettext("Cell marked as failed"),
    "topology.cell.mark_recovered": gettext("Cell marked as recovered"),
    "topology.zone.mark_failed": gettext("Zone marked as failed"),
    "topology.zone.mark_recovered": gettext("Zone marked as recovered"),
    "platform.propagation.stop": gettext("All propagation stopped"),
    "platform.propagation.resume": gettext("All propagation resumed"),
    "binding.created": gettext("Environment binding added"),
    "binding.deleted": gettext("Environment binding removed"),
    "federation.resource.created": gettext("Federated resource created"),
    "federation.resource.updated": gettext("Federated resource updated"),
    "federation.resource.deleted": gettext("Federated resource deleted"),
    "federation.synced": gettext("Federated resources synced to cluster"),
    "dockerfile.saved": gettext("Dockerfile saved"),
    "app.application.created": gettext("Application created"),
    "app.application.updated": gettext("Application changed"),
    "app.application.deleted": gettext("Application deleted"),
    "app.component.created": gettext("Component added"),
    "app.component.updated": gettext("Component changed"),
    "app.component.deleted": gettext("Component removed"),
    "app.dependency.added": gettext("Application dependency added"),
    "app.dependency.removed": gettext("Application dependency removed"),
    "app.instance.created": gettext("Application placed in an environment"),
    "app.instance.updated": gettext("Application placement changed"),
    "app.instance.applied": gettext("Revision applied"),
    "app.revision.created": gettext("Revision created"),
    "app.revision.promoted": gettext("Revision promoted"),
    "registry.pushed": gettext("Image pushed"),
    "registry.deleted": gettext("Image deleted")
  };

  // Refresh live fragments, never a toast: they follow background work, not a person's action.
  var SILENT = ["federation.synced", "bench.event", "build.log", "build.state", "release.state"];

  // Who did what to which object. Used when the event names its actor and object; the label
  // above otherwise. Placeholders missing from an event make it fall back to the label.
  var SENTENCES = {
    "tenant.updated": gettext("%(actor)s updated tenant %(tenant)s"),
    "environment.created": gettext("%(actor)s created environment %(environment)s in %(tenant)s"),
    "environment.updated": gettext("%(actor)s updated environment %(environment)s in %(tenant)s"),
    "environment.deleted": gettext("%(actor)s deleted environment %(environment)s in %(tenant)s"),
    "member.added": gettext("%(actor)s added %(user)s to %(tenant)s"),
    "member.changed": gettext("%(actor)s changed the role of %(user)s in %(tenant)s"),
    "member.removed": gettext("%(actor)s removed %(user)s from %(tenant)s"),
    "quota.updated": gettext("%(actor)s changed the quota of %(tenant)s/%(environment)s"),
    "quota_request.created": gettext("%(actor)s asked for another quota for %(tenant)s/%(environment)s"),
    "quota_request.approved": gettext("%(actor)s approved the quota request for %(tenant)s/%(environment)s"),
    "quota_request.rejected": gettext("%(actor)s rejected the quota request for %(tenant)s/%(environment)s"),
    "quota_request.cancelled": gettext("%(actor)s cancelled the quota request for %(tenant)s/%(environment)s"),
    "federation.resource.created": gettext("%(actor)s created federated %(kind)s %(name)s in %(tenant)s/%(environment)s"),
    "federation.resource.updated": gettext("%(actor)s updated federated %(kind)s %(name)s in %(tenant)s/%(environment)s"),
    "federation.resource.deleted": gettext("%(actor)s deleted federated %(kind)s %(name)s in %(tenant)s/%(environment)s"),
    "cluster.registered": gettext("%(actor)s registered cluster %(name)s"),
    "cluster.removed": gettext("%(actor)s removed cluster %(name)s"),
    "cluster.cordon": gettext("%(actor)s cordoned cluster %(name)s"),
    "cluster.uncordon": gettext("%(actor)s uncordoned cluster %(name)s"),
    "cluster.propagation.pause": gettext("%(actor)s paused propagation to cluster %(name)s"),
    "cluster.propagation.resume": gettext("%(actor)s resumed propagation to cluster %(name)s"),
    "topology.cell.mark_failed": gettext("%(actor)s marked cell %(name)s as failed"),
    "topology.cell.mark_recovered": gettext("%(actor)s marked cell %(name)s as recovered"),
    "topology.zone.mark_failed": gettext("%(actor)s marked zone %(name)s as failed"),
    "topology.zone.mark_recovered": gettext("%(actor)s marked zone %(name)s as recovered"),
    "platform.propagation.stop": gettext("%(actor)s stopped all propagation: %(name)s"),
    "platform.propagation.resume": gettext("%(actor)s resumed all propagation"),
    "binding.created": gettext("%(actor)s bound environment %(environment)s to %(name)s"),
    "binding.deleted": gettext("%(actor)s unbound environment %(environment)s from %(name)s"),
    "dockerfile.saved": gettext("%(actor)s saved version %(number)s of the Dockerfile of %(name)s"),
    "app.application.created": gettext("%(actor)s created application %(name)s in %(tenant)s"),
    "app.application.updated": gettext("%(actor)s changed application %(name)s in %(tenant)s"),
    "app.application.deleted": gettext("%(actor)s deleted application %(name)s in %(tenant)s"),
    "app.component.created": gettext("%(actor)s added component %(component)s to %(name)s"),
    "app.component.updated": gettext("%(actor)s changed component %(component)s of %(name)s"),
    "app.component.deleted": gettext("%(actor)s removed component %(component)s from %(name)s"),
    "app.instance.applied": gettext("%(actor)s applied revision %(revision)s of %(name)s to %(tenant)s/%(environment)s"),
    "app.revision.created": gettext("%(actor)s created revision %(revision)s of %(name)s for %(tenant)s/%(environment)s"),
    "app.revision.promoted": gettext("%(actor)s promoted %(name)s to %(tenant)s/%(environment)s as revision %(revision)s"),
    "registry.pushed": gettext("%(actor)s pushed %(repository)s:%(tag)s"),
    "registry.deleted": gettext("%(actor)s deleted %(repository)s:%(tag)s")
  };

  // cluster.health carries the new state as a code; show the same words as the cluster pages.
  var HEALTH = {
    "unknown": gettext("Unknown"),
    "healthy": gettext("Healthy"),
    "unreachable": gettext("Unreachable"),
    "error": gettext("Error")
  };

  var url = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + "/ws/notifications/";
  var attempt = 0;
  var socket = null;
  var pingTimer = null;
  var retryTimer = null;
  var seen = [];
  var last = {};       // stream -> last seq this page has (kept across reconnects)
  var resuming = {};   // stream -> true while a resume is under way

  function toastArea() {
    var area = document.getElementById("toast-area");
    if (!area) {
      area = document.createElement("div");
      area.id = "toast-area";
      area.className = "toast-container position-fixed bottom-0 end-0 p-3";
      body.appendChild(area);
    }
    return area;
  }

  function sentence(event) {
    var format = SENTENCES[event.type];
    if (!format || !event.actor) { return null; }
    var values = {};
    var complete = true;
    format.replace(/%\((\w+)\)s/g, function (_, key) {
      if (event[key] === undefined || event[key] === null || event[key] === "") { complete = false; }
      values[key] = String(event[key]);
      return "";
    });
    return complete ? interpolate(format, values, true) : null;
  }

  // Only a path on this site: an event can never turn a toast into a link elsewhere.
  function linkOf(event) {
    var target = typeof event.url === "string" ? event.url : "";
    return target.charAt(0) === "/" && target.charAt(1) !== "/" && target.charAt(1) !== "\\" ? target : "";
  }

  function describe(event) {
    var said = sentence(event);
    if (said) { return said; }
    var label = LABELS[event.type] || String(event.type || "");
    var details = [];
    if (event.environment) { details.push(String(event.environment)); }
    if (event.user) { details.push(String(event.user)); }
    if (event.role) { details.push(String(event.role)); }
    if (event.cluster) { details.push(String(event.cluster)); }
    if (event.kind && event.name) {
      details.push(String(event.kind) + " " + String(event.name));
    } else if (event.name) {
      details.push(String(event.name));
    }
    if (event.health) { details.push(HEALTH[event.health] || String(event.health)); }
    return details.length ? label + ": " + details.join(" · ") : label;
  }

  function showToast(event) {
    var area = toastArea();
    var toast = document.createElement("div");
    toast.className = "toast";
    toast.setAttribute("role", "status");
    toast.setAttribute("aria-live", "polite");
    toast.setAttribute("aria-atomic", "true");
    toast.dataset.eventType = String(event.type || "");

    var header = document.createElement("div");
    header.className = "toast-header";
    var icon = document.createElement("i");
    icon.className = "bi bi-bell me-2";
    icon.setAttribute("aria-hidden", "true");
    var title = document.createElement("strong");
    title.className = "me-auto";
    // With a who-did-what sentence below, the title says what happened; otherwise which tenant.
    var said = sentence(event);
    title.textContent = said && LABELS[event.type] ? LABELS[event.type] : event.tenant
      ? interpolate(area.dataset.tenantLabel || gettext("Tenant %(tenant)s"), {tenant: String(event.tenant)}, true)
      : (area.dataset.title || gettext("Notification"));
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "toast");
    close.setAttribute("aria-label", gettext("Close"));
    header.appendChild(icon);
    header.appendChild(title);
    header.appendChild(close);

    var text = document.createElement("div");
    text.className = "toast-body";
    text.textContent = said || describe(event);
    var target = linkOf(event);
    var gone = /\.deleted$|^cluster\.removed$/.test(String(event.type || ""));  // nothing left to open
    if (target && !gone) {
      var link = document.createElement("a");
      link.className = "d-block mt-1";
      link.href = target;
      link.textContent = gettext("Open");
      text.appendChild(link);
    }

    toast.appendChild(header);
    toast.appendChild(text);
    area.appendChild(toast);
    while (area.children.length > MAX_TOASTS) {
      area.removeChild(area.firstElementChild);
    }

    if (window.bootstrap && window.bootstrap.Toast) {
      toast.addEventListener("hidden.bs.toast", function () { toast.remove(); });
      window.bootstrap.Toast.getOrCreateInstance(toast, {delay: 8000}).show();
    } else {
      toast.classList.add("show");
      window.setTimeout(function () { toast.remove(); }, 8000);
    }
  }

  // On body, bubbling: live.js and htmx (`from:body`) listen there, older code on document.
  function dispatch(name, detail) {
    body.dispatchEvent(new CustomEvent(name, {detail: detail, bubbles: true}));
  }

  function deliver(event) {
    dispatch("paas:event", event);
    if (SILENT.indexOf(event.type) === -1) { showToast(event); }
  }

  // The navbar indicator (templates/includes/live_indicator.html): shown while the socket is down.
  var everConnected = false;
  var lost = false;

  function setConnected(connected) {
    var indicator = document.getElementById("live-connection");
    if (indicator) { indicator.hidden = connected; }
    body.dataset.live = connected ? "connected" : "reconnecting";
    if (connected) {
      var catchUp = lost && !everConnected;
      lost = false;
      everConnected = true;
      if (catchUp) { dispatch("paas:reset", {reason: "connected"}); }
    } else {
      lost = true;
    }
  }

  // A notice, not a toast: it stays while live updates are off. Text only, no inline style (CSP).
  function setLiveStatus(available) {
    var notice = document.getElementById("live-status");
    if (available) {
      if (notice) { notice.hidden = true; }
      return;
    }
    if (!notice) {
      notice = document.createElement("div");
      notice.id = "live-status";
      notice.className = "alert alert-warning small py-2";  // no d-flex: it would override [hidden]
      notice.setAttribute("role", "status");
      var icon = document.createElement("i");
      icon.className = "bi bi-broadcast me-2";
      icon.setAttribute("aria-hidden", "true");
      var text = document.createElement("span");
      text.textContent = gettext("Live updates are unavailable: changes are still saved, but this page will " +
                                 "not update by itself. Reload it to see the latest state.");
      notice.appendChild(icon);
      notice.appendChild(text);
      var main = document.getElementById("main") || body;
      main.insertBefore(notice, main.firstChild);
    }
    notice.hidden = false;
    dispatch("paas:live", {available: false});
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
    }
  }

  function resume(streams) {
    var after = {};
    var any = false;
    streams.forEach(function (stream) {
      if (!resuming[stream] && typeof last[stream] === "number") {
        after[stream] = last[stream];
        resuming[stream] = true;
        any = true;
      }
    });
    if (any) { send({type: "resume", after: after}); }
  }

  function hello(streams) {
    var behind = [];
    resuming = {};
    Object.keys(last).forEach(function (stream) {
      if (!(stream in streams)) { delete last[stream]; }  // no longer watched
    });
    Object.keys(streams).forEach(function (stream) {
      if (typeof last[stream] !== "number") {
        last[stream] = streams[stream];  // first connection: start from the head
      } else if (last[stream] !== streams[stream]) {
        behind.push(stream);  // reconnected: fetch what was missed meanwhile
      }
    });
    resume(behind);
  }

  // A numbered event: false when already seen (a replay overlapping live delivery).
  function track(event) {
    var stream = String(event.stream);
    var key = stream + "#" + event.seq;
    if (seen.indexOf(key) !== -1) { return false; }
    seen.push(key);
    if (seen.length > 500) { seen.shift(); }
    var mine = last[stream];
    if (typeof mine === "number" && typeof event.prev === "number" && event.prev > mine) {
      resume([stream]);  // something between what we have and this one never arrived
      if (resuming[stream]) { return true; }
    }
    if (typeof mine !== "number" || event.seq > mine) { last[stream] = event.seq; }
    return true;
  }

  function control(event) {
    var stream = String(event.stream);
    if (event.type === "resumed" || event.type === "reset") {
      resuming[stream] = false;
      if (typeof last[stream] !== "number" || event.head > last[stream] || event.type === "reset") {
        last[stream] = event.head;
      }
      if (event.type === "reset") {
        dispatch("paas:reset", event);
      }
    } else if (event.type === "subscribed") {
      last[stream] = event.head;
    } else if (event.type === "unsubscribed") {
      delete last[stream];
      delete resuming[stream];
    }
  }

  function handle(message) {
    var event;
    try {
      event = JSON.parse(message.data);
    } catch (e) {
      return;
    }
    if (event && event.type === "hello") {
      setLiveStatus(true);
      hello(event.streams || {});
      setConnected(true);
      dispatch("paas:hello", {streams: event.streams || {}});
      return;
    }
    if (event && typeof event.stream === "string" && event.stream.indexOf("release.") === 0) {
      if (window.PaasLive && typeof window.PaasLive.frame === "function") { window.PaasLive.frame(event); }
      return;
    }
    if (event && ["resumed", "reset", "subscribed", "unsubscribed"].indexOf(event.type) !== -1) {
      control(event);
      return;
    }
    if (event && event.type === "unavailable") {
      setLiveStatus(false);
      return;
    }
    if (!event || typeof event !== "object" || event.type === "pong") {
      return;
    }
    if (typeof event.stream === "string" && typeof event.seq === "number") {
      if (!track(event)) { return; }
    } else if (event.id) {
      if (seen.indexOf(event.id) !== -1) { return; }
      seen.push(event.id);
      if (seen.length > 500) { seen.shift(); }
    }
    deliver(event);
  }

  function stopPing() {
    if (pingTimer) {
      window.clearInterval(pingTimer);
      pingTimer = null;
    }
  }

  function scheduleReconnect() {
    if (retryTimer) { return; }
    var ceiling = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * Math.pow(2, attempt));
    var delay = ceiling / 2 + Math.random() * ceiling / 2;
    attempt += 1;
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      connect();
    }, delay);
  }

  function connect() {
    try {
      socket = new WebSocket(url);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket.addEventListener("open", function () {
      attempt = 0;
      stopPing();
      pingTimer = window.setInterval(function () {
        if (socket && socket.readyState === WebSocket.OPEN) {
          socket.send(JSON.stringify({type: "ping"}));
        }
      }, PING_EVERY_MS);
    });
    socket.addEventListener("message", handle);
    socket.addEventListener("close", function (closeEvent) {
      stopPing();
      socket = null;
      dispatch("paas:socket", {open: false, code: closeEvent.code});
      if (FINAL_CLOSE_CODES.indexOf(closeEvent.code) === -1) {
        // Told that the live layer is down: the notice says so until a later connection says
        // hello. Lost or could not connect: the navbar indicator says it is reconnecting.
        if (closeEvent.code === LAYER_DOWN_CODE) { setLiveStatus(false); }
        if (!leaving) { setConnected(false); }
        scheduleReconnect();
      }
    });
  }

  // Navigating away closes the socket too: that is no outage worth a notice.
  var leaving = false;
  window.addEventListener("pagehide", function () { leaving = true; });

  // A tab coming back from sleep should not wait out a long backoff.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !socket && retryTimer) {
      window.clearTimeout(retryTimer);
      retryTimer = null;
      attempt = 0;
      connect();
    }
  });

  // For release-live.js: frames to the server on the open socket (false when there is none).
  window.PaasSocket = {
    send: function (frame) {
      if (!socket || socket.readyState !== WebSocket.OPEN) { return false; }
      socket.send(JSON.stringify(frame));
      return true;
    }
  };

  connect();
}());
