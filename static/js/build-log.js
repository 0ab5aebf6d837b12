/*
 * A build's live, numbered log (templates/builds/detail.html, #build-log).
 *
 * Lines arrive as "build.log" live events (notifications.js dispatches them as "paas:event"
 * on document.body): {build, number, text}. A line is appended only when its number is the
 * next one, so nothing is ever shown twice; an event further ahead (a gap: an event was
 * lost, or this page connected after the server had rendered it) is kept aside and the
 * missing lines are fetched from the API (GET <data-log-url>?after=<last number>), then
 * the kept ones follow. The same fetch runs when the socket (re)connects, on "paas:reset",
 * when the build finishes, and every few seconds while live updates are down or silent,
 * so the page ends with exactly the stored log whatever happened to the connection.
 *
 * Text is inserted with textContent only (never as HTML).
 */
(function () {
  "use strict";

  var body = document.body;
  var log = document.getElementById("build-log");
  if (!body || !log || !window.fetch) { return; }

  var PAGE = 1000;
  var QUIET_MS = 15000;      // no event for this long while running: ask the server anyway
  var OFFLINE_MS = 4000;     // poll this often while the live connection is down
  var MAX_KEPT = 5000;       // lines kept aside while a fetch runs; beyond that the fetch covers them
  var FINISHED = ["succeeded", "failed", "cancelled"];

  var buildId = String(log.dataset.build);
  var url = log.dataset.logUrl;
  var last = parseInt(log.dataset.last || "0", 10) || 0;
  var finished = log.dataset.finished === "true";
  var kept = {};
  var keptCount = 0;
  var fetching = false;
  var again = false;
  var lastEventAt = Date.now();
  var status = document.getElementById("build-log-state");

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  function row(number, text) {
    var line = document.createElement("div");
    line.className = "build-log-line";
    line.dataset.n = String(number);
    var n = document.createElement("span");
    n.className = "build-log-number";
    n.textContent = String(number);
    var t = document.createElement("span");
    t.className = "build-log-text";
    t.textContent = text;
    line.appendChild(n);
    line.appendChild(t);
    return line;
  }

  function append(number, text) {
    if (number !== last + 1) { return false; }
    log.appendChild(row(number, text));
    last = number;
    log.dataset.last = String(last);
    return true;
  }

  function drainKept() {
    while (Object.prototype.hasOwnProperty.call(kept, last + 1)) {
      var text = kept[last + 1];
      delete kept[last + 1];
      keptCount -= 1;
      append(last + 1, text);
    }
    Object.keys(kept).forEach(function (key) {  // anything at or below `last` is already shown
      if (parseInt(key, 10) <= last) { delete kept[key]; keptCount -= 1; }
    });
  }

  function keep(number, text) {
    if (keptCount >= MAX_KEPT || Object.prototype.hasOwnProperty.call(kept, number)) { return; }
    kept[number] = text;
    keptCount += 1;
  }

  function say(text) {
    if (status) { status.textContent = text || ""; }
  }

  function catchUp() {
    if (fetching) { again = true; return; }
    fetching = true;
    again = false;
    say(log.dataset.msgCatchingUp || "");
    var bottom = atBottom();
    var separator = url.indexOf("?") === -1 ? "?" : "&";
    window.fetch(url + separator + "after=" + last + "&limit=" + PAGE,
                 {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        (data.lines || []).forEach(function (line) { append(line.number, String(line.text)); });
        drainKept();
        if (bottom) { log.scrollTop = log.scrollHeight; }
        if (data.finished) { finished = true; log.dataset.finished = "true"; }
        fetching = false;
        say("");
        if (again || last < data.last) { catchUp(); }
      })
      .catch(function () {
        fetching = false;
        say("");
        window.setTimeout(catchUp, OFFLINE_MS);
      });
  }

  body.addEventListener("paas:event", function (domEvent) {
    var event = domEvent.detail;
    if (!event || String(event.build) !== buildId) { return; }
    lastEventAt = Date.now();
    if (event.type === "build.log") {
      var number = event.number;
      if (typeof number !== "number" || number <= last) { return; }  // already shown
      var bottom = atBottom();
      if (!fetching && append(number, String(event.text))) {
        drainKept();
        if (bottom) { log.scrollTop = log.scrollHeight; }
        return;
      }
      keep(number, String(event.text));
      catchUp();  // a gap: fetch the lines in between
    } else if (event.type === "build.state" && FINISHED.indexOf(event.state) !== -1) {
      catchUp();  // the last lines are stored before the state changes
    }
  });

  body.addEventListener("paas:reset", catchUp);

  // notifications.js sets data-live="connected" each time a connection says hello.
  if (window.MutationObserver) {
    new MutationObserver(function () {
      if (body.dataset.live === "connected") { catchUp(); }
    }).observe(body, {attributes: true, attributeFilter: ["data-live"]});
  }

  window.setInterval(function () {
    if (finished) { return; }
    var offline = body.dataset.live !== "connected";
    if (offline || Date.now() - lastEventAt > QUIET_MS) {
      lastEventAt = Date.now();
      catchUp();
    }
  }, OFFLINE_MS);

  log.scrollTop = log.scrollHeight;
  catchUp();  // lines written between this page's rendering and its live connection
}());
