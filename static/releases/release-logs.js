/*
 * Pod logs on the release page (#release-log): polls <urls.logs>?cluster=&pod=&since=<cursor>
 * every couple of seconds (releases/views_logs.py explains why polling), appends new lines and
 * drops the ones already shown (same pod, time and text: the server's cursor may repeat a few).
 * Filters: a cluster, then one of its pods (both lists come from the page's release state,
 * kept current by release-live.js). "Follow" keeps the view scrolled to the newest line.
 * Lines are inserted with textContent only.
 */
(function () {
  "use strict";

  var log = document.getElementById("release-log");
  var source = document.getElementById("release-state");
  if (!log || !source || !window.fetch) { return; }

  var url = JSON.parse(source.textContent).urls.logs;
  var clusterSelect = document.getElementById("log-cluster");
  var podSelect = document.getElementById("log-pod");
  var follow = document.getElementById("log-follow");
  var status = document.getElementById("release-log-status");
  var POLL_MS = 2000;
  var BACKOFF_MS = 10000;   // every pod read failed (cluster unreachable): ask less often
  var MAX_LINES = 2000;
  var cursor = null;
  var seen = {};
  var order = [];
  var busy = false;
  var generation = 0;
  var notBefore = 0;

  function state() { return window.ReleaseLive ? window.ReleaseLive.state() : JSON.parse(source.textContent); }

  function option(value, label) {
    var node = document.createElement("option");
    node.value = value;
    node.textContent = label;
    return node;
  }

  function fillClusters() {
    var chosen = clusterSelect.value;
    var first = clusterSelect.options[0];
    var known = {};
    var nodes = [first];
    (state().clusters || []).concat(state().pods || []).forEach(function (c) {
      var id = String(c.id !== undefined ? c.id : c.cluster);
      var slug = c.slug || c.cluster_slug;
      if (!known[id] && slug) { known[id] = true; nodes.push(option(id, slug)); }
    });
    if (nodes.length !== clusterSelect.options.length) {
      clusterSelect.replaceChildren.apply(clusterSelect, nodes);
      clusterSelect.value = chosen;
    }
  }

  function fillPods() {
    var chosen = podSelect.value;
    var cluster = clusterSelect.value;
    var nodes = [podSelect.options[0]];
    (state().pods || []).forEach(function (p) {
      if (p.state === "gone" || (cluster && String(p.cluster) !== cluster)) { return; }
      nodes.push(option(p.pod, p.pod + (cluster ? "" : " (" + p.cluster_slug + ")")));
    });
    podSelect.replaceChildren.apply(podSelect, nodes);
    podSelect.value = chosen;
    if (podSelect.value !== chosen) { podSelect.value = ""; }
  }

  function reset() {
    generation += 1;
    notBefore = 0;
    cursor = null;
    seen = {};
    order = [];
    log.replaceChildren();
    poll();
  }

  function append(line) {
    var key = line.cluster + "/" + line.pod + "@" + line.ts + ":" + line.text;
    if (seen[key]) { return; }
    seen[key] = true;
    order.push(key);
    var row = document.createElement("div");
    row.className = "release-log-line";
    var where = document.createElement("span");
    where.className = "release-log-pod";
    where.textContent = line.cluster_slug + "/" + line.pod;
    var body = document.createElement("span");
    body.className = "release-log-text";
    body.textContent = line.text;
    row.appendChild(where);
    row.appendChild(body);
    log.appendChild(row);
    while (order.length > MAX_LINES) {
      delete seen[order.shift()];
      if (log.firstChild) { log.removeChild(log.firstChild); }
    }
  }

  function poll() {
    if (busy || document.visibilityState === "hidden" || Date.now() < notBefore) { return; }
    busy = true;
    var mine = generation;
    var query = "?cluster=" + encodeURIComponent(clusterSelect.value) + "&pod=" + encodeURIComponent(podSelect.value) +
                (cursor !== null ? "&since=" + cursor : "");
    window.fetch(url + query, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json().then(function (data) { return {ok: response.ok, data: data}; }); })
      .then(function (answer) {
        busy = false;
        if (mine !== generation) { return; }
        var data = answer.data || {};
        if (!answer.ok) { status.textContent = data.error || ""; return; }
        cursor = data.cursor;
        (data.lines || []).forEach(append);
        var notes = (data.errors || []).map(function (e) { return e.cluster_slug + "/" + e.pod + ": " + e.error; });
        status.textContent = notes.join(" · ");
        notBefore = notes.length && !(data.pods || []).length ? Date.now() + BACKOFF_MS : 0;
        if (!log.firstChild) { status.textContent = status.textContent || log.dataset.msgEmpty || ""; }
        if (follow.checked) { log.scrollTop = log.scrollHeight; }
      })
      .catch(function () { busy = false; });
  }

  clusterSelect.addEventListener("change", function () { fillPods(); reset(); });
  podSelect.addEventListener("change", reset);
  document.body.addEventListener("release:drawn", function () { fillClusters(); if (!podSelect.matches(":focus")) { fillPods(); } });
  fillClusters();
  fillPods();
  poll();
  window.setInterval(poll, POLL_MS);
}());
