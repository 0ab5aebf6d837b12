/*
 * The release page, live (templates/releases/detail.html).
 *
 * The server renders the release's state as JSON (#release-state: steps with their targets,
 * pods, gate and traffic series, the last events, and `last_seq`, the number of the last event
 * it reflects). This script draws it, then moves it forward by applying the release's numbered
 * events (CONTRACTS D: release.*, step.*, gate.result, pod.state, traffic.sample) strictly in
 * order and each exactly once:
 *   - an event numbered last+1 is applied; one at or below `last` is a duplicate and ignored;
 *   - one further ahead (a gap) is kept aside and the missing ones are fetched from
 *     <urls.events>?after=<last> (the same rows the live stream sends), then the kept ones follow;
 *   - the same fetch runs on "paas:reset", when live updates are down (every few seconds), and
 *     when nothing arrived for a while although the release is still moving.
 * So a page that lost its connection, slept or was reloaded ends with exactly the view of one
 * that never did. Events come from the live socket (notifications.js dispatches "paas:event"
 * on document.body; those of stream "release.<id>" are ours) or, when the realtime helper's
 * window.PaasLive.watchRelease is present (static/js/release-live.js), through it.
 *
 * Everything from events is inserted as text (textContent), never as HTML.
 */
(function () {
  "use strict";

  var body = document.body;
  var root = document.getElementById("release-live");
  var source = document.getElementById("release-state");
  var labelSource = document.getElementById("release-labels");
  if (!body || !root || !source) { return; }

  var state = JSON.parse(source.textContent);
  var labels = labelSource ? JSON.parse(labelSource.textContent) : {release: {}, step: {}, pod: {}, kind: {}, words: {}};
  var words = labels.words || {};
  var FINAL = ["succeeded", "aborted", "rolled_back", "failed"];
  var QUIET_MS = 5000;      // no event for this long while the release moves: ask the server
  var OFFLINE_MS = 2500;    // poll this often while the live connection is down
  var SETTLED_MS = 20000;   // and this often once the release has finished
  var PAGE = 500;
  var MAX_EVENTS = 200;
  var MAX_POINTS = 300;
  var STEP_STATES = {"step.started": "running", "step.verifying": "verifying", "step.succeeded": "succeeded",
                     "step.failed": "failed"};
  var CANCELS = {
    "release.aborted": ["running", "verifying", "waiting"],
    "release.rollback_started": ["waiting"],
    "release.rolled_back": ["pending", "waiting", "running"]
  };
  var STATE_STYLE = {
    planned: ["secondary", "calendar-check"], running: ["primary", "arrow-repeat"],
    waiting: ["warning", "hourglass-split"], paused: ["warning", "pause-circle"],
    rolling_back: ["danger", "arrow-counterclockwise"], succeeded: ["success", "check-circle"],
    aborted: ["secondary", "slash-circle"], rolled_back: ["info", "arrow-counterclockwise"],
    failed: ["danger", "x-circle"]
  };

  var last = state.last_seq || 0;
  var kept = {};
  var fetching = false;
  var again = false;
  var lastEventAt = Date.now();
  var drawPending = false;

  function text(tag, className, value) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (value !== undefined && value !== null) { node.textContent = String(value); }
    return node;
  }

  function say(key) {
    var sync = document.getElementById("release-sync");
    if (sync) { sync.textContent = key ? (root.dataset[key] || "") : ""; }
  }

  // --- applying events (the same rules the server's snapshot follows) -------------------

  function stepOf(index, name) {
    for (var i = 0; i < state.steps.length; i += 1) {
      if (state.steps[i].index === index) { return state.steps[i]; }
    }
    if (typeof index !== "number") { return null; }
    var step = {index: index, kind: name && /roll/i.test(name) ? "rollback" : "batch", name: name || "",
                group: "", state: "pending", manual: false, targets: [], error: ""};
    state.steps.push(step);
    state.steps.sort(function (a, b) { return a.index - b.index; });
    return step;
  }

  function applyProgress(d) {
    var step = stepOf(d.step);
    if (!step) { return; }
    var target = null;
    step.targets.forEach(function (t) {
      if (String(t.cluster) === String(d.cluster) && t.component === d.component) { target = t; }
    });
    if (!target) {
      target = {cluster: d.cluster, cluster_slug: d.cluster_slug || String(d.cluster), component: d.component,
                desired: 0, total: 0, updated: 0, ready: 0, state: "running"};
      step.targets.push(target);
    }
    ["updated", "ready", "desired", "total"].forEach(function (key) {
      if (typeof d[key] === "number") { target[key] = d[key]; }
    });
    if (d.cluster_slug) { target.cluster_slug = d.cluster_slug; }
  }

  function applyGate(seq, d) {
    var name = String(d.gate || "");
    var series = state.gates[name] || (state.gates[name] = {op: d.op, threshold: d.threshold, points: []});
    series.op = d.op;
    series.threshold = d.threshold;
    series.points.push({seq: seq, step: d.step, value: d.value, ok: !!d.ok, detail: d.detail || ""});
    if (series.points.length > MAX_POINTS) { series.points.splice(0, series.points.length - MAX_POINTS); }
  }

  function applyPod(d) {
    var pod = null;
    for (var i = 0; i < state.pods.length; i += 1) {
      var p = state.pods[i];
      if (String(p.cluster) === String(d.cluster) && p.pod === d.pod) { pod = p; break; }
    }
    if (!pod) {
      pod = {cluster: d.cluster, cluster_slug: d.cluster_slug, cell: d.cell || "", component: d.component, pod: d.pod};
      state.pods.push(pod);
    }
    ["state", "revision", "restarts", "reason", "cell", "cluster_slug", "component"].forEach(function (key) {
      if (d[key] !== undefined) { pod[key] = d[key]; }
    });
  }

  function applyRelease(kind, d) {
    if (d.state) { state.state = d.state; }
    if (typeof d.step === "number") { state.current_step = d.step; }
    if (d.reason !== undefined) {
      state.reason = d.reason || "";
    } else if (d.state === "running" || d.state === "succeeded") {
      state.reason = "";
    }
    if (kind === "release.waiting" && typeof d.step === "number") { stepOf(d.step).state = "waiting"; }
    // Steps these transitions cancel in the same transaction, without an event of their own
    // (releases/services/actions.py, releases/engine/executor.py and transitions.py):
    var cancels = CANCELS[kind];
    if (cancels) {
      state.steps.forEach(function (step) { if (cancels.indexOf(step.state) !== -1) { step.state = "cancelled"; } });
    }
  }

  function apply(event) {
    var kind = String(event.kind || "");
    var d = event.data || {};
    if (kind === "step.progress") {
      applyProgress(d);
    } else if (STEP_STATES[kind]) {
      var step = stepOf(d.step, d.name);
      if (step) {
        step.state = STEP_STATES[kind];
        if (d.name) { step.name = d.name; }
        if (kind === "step.failed" && d.reason) { step.error = d.reason; }
      }
    } else if (kind === "gate.result") {
      applyGate(event.seq, d);
    } else if (kind === "pod.state") {
      applyPod(d);
    } else if (kind === "traffic.sample") {
      state.traffic.push({seq: event.seq, sent: d.sent, ok: d.ok, failed: d.failed, success_ratio: d.success_ratio});
      if (state.traffic.length > MAX_POINTS) { state.traffic.shift(); }
    } else if (kind.indexOf("release.") === 0) {
      applyRelease(kind, d);
    }
    if (kind === "traffic.sample") { return; }  // charted, not logged (as the server's snapshot)
    state.events.push({seq: event.seq, kind: kind, message: event.message || "", actor: event.actor || "",
                       at: event.at || null, data: d});
    if (state.events.length > MAX_EVENTS) { state.events.shift(); }
  }

  // In order, once: returns true when the event was applied now.
  function receive(event) {
    if (!event || typeof event.seq !== "number") { return false; }
    lastEventAt = Date.now();
    if (event.seq <= last) { return false; }
    if (event.seq !== last + 1) {
      kept[event.seq] = event;
      catchUp();
      return false;
    }
    apply(event);
    last = event.seq;
    while (kept[last + 1]) {
      var next = kept[last + 1];
      delete kept[last + 1];
      apply(next);
      last = next.seq;
    }
    Object.keys(kept).forEach(function (seq) { if (Number(seq) <= last) { delete kept[seq]; } });
    scheduleDraw();
    return true;
  }

  function catchUp() {
    if (fetching) { again = true; return; }
    fetching = true;
    again = false;
    say("msgCatchingUp");
    window.fetch(state.urls.events + "?after=" + last + "&limit=" + PAGE,
                 {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        (data.events || []).forEach(receive);
        fetching = false;
        say(body.dataset.live === "reconnecting" ? "msgOffline" : "msgLive");
        if (again || last < data.last_seq) { catchUp(); }
      })
      .catch(function () {
        fetching = false;
        say("msgOffline");
        window.setTimeout(catchUp, OFFLINE_MS);
      });
  }

  // --- drawing ----------------------------------------------------------------------------

  function label(group, value) {
    return (labels[group] && labels[group][value]) || String(value || "");
  }

  function drawBadge() {
    var holder = document.getElementById("release-state-badge");
    if (!holder) { return; }
    var style = STATE_STYLE[state.state] || ["secondary", "question-circle"];
    var badge = text("span", "badge rounded-pill bg-" + style[0] + "-subtle text-" + style[0] +
                     "-emphasis border border-" + style[0] + "-subtle");
    badge.dataset.releaseState = state.state;
    var icon = text("i", "bi bi-" + style[1] + " me-1");
    icon.setAttribute("aria-hidden", "true");
    badge.appendChild(icon);
    badge.appendChild(document.createTextNode(label("release", state.state)));
    holder.replaceChildren(badge);
    var reason = document.getElementById("release-reason");
    if (reason) {
      reason.classList.toggle("d-none", !state.reason);
      reason.querySelector("span").textContent = state.reason || "";
    }
    var seq = document.getElementById("release-seq");
    if (seq) { seq.textContent = String(last); }
    root.dataset.state = state.state;
    root.dataset.lastSeq = String(last);
  }

  function drawActions() {
    document.querySelectorAll("form.release-action").forEach(function (form) {
      var states = (form.dataset.states || "").split(/\s+/);
      form.hidden = states.indexOf(state.state) === -1;
    });
  }

  function bar(t) {
    var wrap = text("div", "release-bar");
    var desired = Math.max(t.desired || 0, 1);
    var updated = text("span", "release-bar-updated");
    var ready = text("span", "release-bar-ready");
    // CSSOM, not a style attribute: allowed by the CSP.
    updated.style.width = Math.min(100, 100 * (t.updated || 0) / desired).toFixed(1) + "%";
    ready.style.width = Math.min(100, 100 * (t.ready || 0) / desired).toFixed(1) + "%";
    wrap.appendChild(updated);
    wrap.appendChild(ready);
    wrap.setAttribute("role", "progressbar");
    wrap.setAttribute("aria-valuemin", "0");
    wrap.setAttribute("aria-valuemax", String(t.desired || 0));
    wrap.setAttribute("aria-valuenow", String(t.ready || 0));
    return wrap;
  }

  function drawSteps() {
    var list = document.getElementById("release-steps");
    if (!list) { return; }
    var items = state.steps.map(function (step) {
      var li = text("li", "list-group-item release-step release-step-" + step.state);
      li.dataset.step = String(step.index);
      li.dataset.state = step.state;
      if (step.index === state.current_step && FINAL.indexOf(state.state) === -1) { li.classList.add("release-step-current"); }
      var head = text("div", "d-flex justify-content-between align-items-center gap-2");
      var title = text("span", "fw-semibold", (step.index + 1) + ". " + step.name);
      var meta = text("span", "small text-nowrap");
      var kind = text("span", "badge text-bg-light border me-1", label("kind", step.kind));
      meta.appendChild(kind);
      if (step.manual) { meta.appendChild(text("span", "badge text-bg-light border me-1", words.manual || "manual")); }
      meta.appendChild(text("span", "release-step-state", label("step", step.state)));
      head.appendChild(title);
      head.appendChild(meta);
      li.appendChild(head);
      if (step.group) { li.appendChild(text("div", "small text-body-secondary", step.group)); }
      if (step.error) { li.appendChild(text("div", "small text-danger", step.error)); }
      var targets = text("div", "release-targets");
      step.targets.forEach(function (t) {
        var row = text("div", "release-target small");
        row.dataset.cluster = String(t.cluster);
        var name = text("span", "release-target-name", t.cluster_slug + " · " + t.component);
        var figures = text("span", "release-target-figures text-body-secondary text-nowrap",
                           (words.ready || "ready") + " " + (t.ready || 0) + " · " + (words.updated || "updated") + " " +
                           (t.updated || 0) + " / " + (t.desired || 0) + (t.total ? " (" + t.total + ")" : ""));
        row.appendChild(name);
        row.appendChild(bar(t));
        row.appendChild(figures);
        targets.appendChild(row);
      });
      li.appendChild(targets);
      return li;
    });
    list.replaceChildren.apply(list, items);
  }

  function clusters() {
    if (state.clusters && state.clusters.length) { return state.clusters; }
    var seen = {};
    var found = [];
    state.pods.forEach(function (p) {
      if (!seen[p.cluster]) { seen[p.cluster] = true; found.push({id: p.cluster, slug: p.cluster_slug, cell: p.cell, pods: {}}); }
    });
    return found;
  }

  function podTitle(p) {
    var back = p.state === "new" && p.revision === state.baseline;
    var parts = [p.pod, back ? (words.back_on_baseline || "") : label("pod", p.state)];
    if (p.revision !== null && p.revision !== undefined) { parts.push("r" + p.revision); }
    parts.push((words.restarts || "restarts") + " " + (p.restarts || 0));
    if (p.reason) { parts.push(p.reason); }
    return parts.join(" · ");
  }

  function drawGrid() {
    var grid = document.getElementById("release-grid");
    if (!grid) { return; }
    var byCluster = {};
    state.pods.forEach(function (p) { (byCluster[p.cluster] = byCluster[p.cluster] || []).push(p); });
    var cells = [];
    var rows = {};
    clusters().forEach(function (c) {
      var cell = c.cell || "—";
      if (!rows[cell]) { rows[cell] = []; cells.push(cell); }
      rows[cell].push(c);
    });
    var nodes = cells.map(function (cell) {
      var row = text("div", "release-cell");
      row.appendChild(text("div", "release-cell-name small fw-semibold", cell));
      var boxes = text("div", "release-cell-clusters");
      rows[cell].forEach(function (c) {
        var box = text("div", "release-cluster");
        box.dataset.cluster = String(c.id);
        box.appendChild(text("div", "release-cluster-name small", c.slug));
        var squares = text("div", "release-pods");
        var pods = (byCluster[c.id] || []).slice().sort(function (a, b) { return a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0; });
        var live = 0;
        pods.forEach(function (p) {
          // A rollback's "new" is ready on the baseline again: shown as the baseline's colour.
          var shown = p.state === "new" && p.revision === state.baseline && state.baseline !== state.target ? "old" : (p.state || "old");
          var square = text("span", "pod pod-" + shown);
          square.title = podTitle(p);
          square.dataset.pod = p.pod;
          square.dataset.state = p.state || "old";
          square.setAttribute("aria-label", square.title);
          square.setAttribute("role", "img");
          squares.appendChild(square);
          if (p.state !== "gone") { live += 1; }
        });
        var planned = 0;
        Object.keys(c.pods || {}).forEach(function (k) { planned += c.pods[k] || 0; });
        for (var i = live; i < planned; i += 1) {
          var unknown = text("span", "pod pod-unknown");
          unknown.title = words.not_observed || "not observed yet";
          squares.appendChild(unknown);
        }
        box.appendChild(squares);
        boxes.appendChild(box);
      });
      row.appendChild(boxes);
      return row;
    });
    if (!nodes.length) { nodes = [text("p", "small text-body-secondary mb-0", words.no_pods || "")]; }
    grid.replaceChildren.apply(grid, nodes);
  }

  function drawTraffic() {
    var box = document.getElementById("release-traffic");
    if (!box || !state.traffic.length) { return; }
    var latest = state.traffic[state.traffic.length - 1];
    var ratio = typeof latest.success_ratio === "number" ? latest.success_ratio : null;
    var head = text("div", "d-flex align-items-baseline gap-2 mb-1");
    var big = text("span", "release-ratio fs-4 fw-semibold" + (ratio !== null && ratio < 1 ? " text-danger" : " text-success"),
                   ratio === null ? "—" : (ratio * 100).toFixed(ratio === 1 ? 0 : 2) + "%");
    big.dataset.testid = "success-ratio";
    head.appendChild(big);
    head.appendChild(text("span", "small text-body-secondary", words.success || "success"));
    var figures = text("div", "small text-body-secondary mb-2",
                       (words.sent || "sent") + " " + (latest.sent || 0) + " · " + (words.ok || "ok") + " " + (latest.ok || 0) +
                       " · " + (words.failed || "failed") + " " + (latest.failed || 0));
    figures.dataset.failed = String(latest.failed || 0);
    var chart = window.ReleaseCharts ? window.ReleaseCharts.line(state.traffic.map(function (p) { return p.success_ratio; }),
      {min: 0, max: 1, label: words.success || ""}) : text("span");
    box.replaceChildren(head, figures, chart);
  }

  function drawGates() {
    var box = document.getElementById("release-gates");
    var names = Object.keys(state.gates || {});
    if (!box || !names.length) { return; }
    box.replaceChildren.apply(box, names.map(function (name) {
      var series = state.gates[name];
      var latest = series.points[series.points.length - 1] || {};
      var wrap = text("div", "release-gate mb-3");
      wrap.dataset.gate = name;
      var head = text("div", "d-flex justify-content-between small");
      head.appendChild(text("span", "fw-semibold", name));
      var value = typeof latest.value === "number" ? Math.round(latest.value * 10000) / 10000 : latest.value;
      var status = text("span", latest.ok ? "text-success" : "text-danger",
                        String(value === undefined || value === null ? "—" : value) +
                        (series.threshold !== undefined && series.threshold !== null ? " " + (series.op || "") + " " + series.threshold : ""));
      head.appendChild(status);
      wrap.appendChild(head);
      var numeric = series.points.map(function (p) { return typeof p.value === "number" ? p.value : (p.value === true ? 1 : p.value === false ? 0 : null); });
      if (window.ReleaseCharts) {
        wrap.appendChild(window.ReleaseCharts.line(numeric, {threshold: typeof series.threshold === "number" ? series.threshold : null,
          okFlags: series.points.map(function (p) { return p.ok; }), label: name}));
      }
      if (latest.detail) { wrap.appendChild(text("div", "small text-body-secondary", latest.detail)); }
      return wrap;
    }));
  }

  // Events the executor records without words: said from their data.
  function describe(e) {
    if (e.message && e.message !== e.kind) { return e.message; }
    var d = e.data || {};
    if (e.kind === "pod.state") {
      return (d.cluster_slug || "") + "/" + (d.pod || "") + ": " + label("pod", d.state) + (d.reason ? " · " + d.reason : "");
    }
    if (e.kind === "step.progress") {
      return (d.cluster_slug || "") + " · " + (d.component || "") + ": " + (words.ready || "ready") + " " + (d.ready || 0) +
             " · " + (words.updated || "updated") + " " + (d.updated || 0) + " / " + (d.desired || 0);
    }
    if (e.kind === "gate.result") {
      return String(d.gate || "") + ": " + String(d.value) + " " + (d.op || "") + " " + String(d.threshold) +
             (d.ok ? " ✓" : " ✗");
    }
    return e.kind;
  }

  function drawEvents() {
    var list = document.getElementById("release-events");
    if (!list) { return; }
    var items = state.events.slice().reverse().map(function (e) {
      var li = text("li", "list-group-item");
      li.dataset.seq = String(e.seq);
      li.dataset.kind = e.kind;
      var head = text("div", "d-flex justify-content-between gap-2");
      head.appendChild(text("span", "text-body-secondary", "#" + e.seq + " " + e.kind));
      if (e.at) { head.appendChild(text("time", "text-body-secondary text-nowrap", String(e.at).slice(11, 19))); }
      li.appendChild(head);
      li.appendChild(text("div", "", describe(e)));
      if (e.actor && e.actor !== "system") { li.appendChild(text("div", "text-body-secondary", e.actor)); }
      return li;
    });
    list.replaceChildren.apply(list, items);
  }

  function draw() {
    drawPending = false;
    drawBadge();
    drawActions();
    drawSteps();
    drawGrid();
    drawTraffic();
    drawGates();
    drawEvents();
    body.dispatchEvent(new CustomEvent("release:drawn", {detail: {state: state, last: last}}));
  }

  function scheduleDraw() {
    if (drawPending) { return; }
    drawPending = true;
    window.requestAnimationFrame(draw);
  }

  // --- wiring -----------------------------------------------------------------------------

  // The realtime helper's client (static/js/release-live.js) subscribes to "release.<id>" and
  // hands over each event once, in order; without it, the stream's frames are read from
  // "paas:event". Either way receive() ignores what it already has, so both paths are safe.
  var hub = window.PaasLive && typeof window.PaasLive.watchRelease === "function";
  var liveStatus = "connecting";
  if (hub) {
    window.PaasLive.watchRelease(state.id, last, receive, {
      eventsUrl: state.urls.events,
      onStatus: function (status) { liveStatus = status; say(status === "live" ? "msgLive" : "msgOffline"); },
      onReset: catchUp
    });
  } else {
    body.addEventListener("paas:event", function (domEvent) {
      var event = domEvent.detail;
      if (event && event.stream === state.stream) { receive(event); }
    });
  }
  body.addEventListener("paas:reset", catchUp);

  // A finished release can still change (rolled back after success), so it is polled too, slowly.
  window.setInterval(function () {
    var offline = hub ? liveStatus !== "live" : body.dataset.live !== "connected";
    // With the realtime client live, it fills gaps itself: this poll is only a safety net then.
    var wait = FINAL.indexOf(state.state) !== -1 || (hub && !offline) ? SETTLED_MS : offline ? OFFLINE_MS : QUIET_MS;
    if (Date.now() - lastEventAt > wait) { lastEventAt = Date.now(); catchUp(); }
  }, OFFLINE_MS);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { catchUp(); }
  });

  window.ReleaseLive = {state: function () { return state; }, last: function () { return last; }, receive: receive,
                        catchUp: catchUp};
  say("msgLive");
  draw();
  catchUp();  // events committed between the snapshot and this script
}());
