/*
 * Live page fragments: parts of a page that refresh themselves (htmx) when the server
 * emits an event about what they show, instead of polling.
 *
 * notifications.js owns the one WebSocket and dispatches on document.body:
 *   "paas:event"  detail = the event payload ({type, resources?, resource?, ...})
 *   "paas:reset"  the page missed too much (or came back after being offline): reload all
 *
 * A fragment opts in with attributes only (the CSP forbids inline script):
 *
 *   <div id="…" hx-get="<fragment url>" hx-trigger="live-refresh" hx-swap="outerHTML"
 *        data-live-types="federation.synced federation.resource."   (prefixes, space-separated)
 *        data-live-ids="12 13">                                       (optional)
 *
 * The filtering happens here, before htmx is involved, so an event of no interest costs
 * nothing: an element refreshes when the event type starts with one of its prefixes and,
 * if it has data-live-ids, when the event names one of those ids ("resource" or the list
 * "resources"). An event naming no resource at all refreshes it too (it may concern them).
 *
 * Bursts are coalesced per element: the first matching event starts a ~500 ms timer, later
 * ones join it, and one "live-refresh" fires at its end (trailing edge) — a change that
 * reaches 100 clusters costs one request per fragment, not 100. htmx queues a refresh that
 * fires while the previous one is still in flight, so the last state always arrives.
 *
 * Fragments swapped in by htmx (outerHTML) are found again by id, so a pending timer
 * survives a swap. A fragment the user is typing in (a focused or changed field inside it)
 * waits until they are done: a refresh must never throw away what someone is writing.
 *
 * Where refreshing would change what the user is reading (a filtered or later page of the
 * audit trail), a hidden element with data-live-count counts matching events instead and
 * shows itself: its .live-count child gets data-text-one / data-text-other ("%(n)s new
 * events"), with a link to the first page chosen by the template.
 * Requests carry "X-Live-Refresh: 1" (the page template then leaves
 * the one-time flash messages for the next real page view).
 */
(function () {
  "use strict";

  var body = document.body;
  if (!body) { return; }

  var COALESCE_MS = 500;
  var EDITING_RETRY_MS = 2000;
  var ngettext = typeof window.ngettext === "function" ? window.ngettext
    : function (one, other, n) { return n === 1 ? one : other; };
  var pending = {};   // key -> timeout id
  var anonymous = 0;  // keys for elements without an id

  function keyOf(element) {
    if (element.id) { return "#" + element.id; }
    if (!element.dataset.liveKey) { anonymous += 1; element.dataset.liveKey = "live-" + anonymous; }
    return element.dataset.liveKey;
  }

  function current(key) {
    if (key.charAt(0) === "#") { return document.getElementById(key.slice(1)); }
    return document.querySelector("[data-live-key='" + key + "']");
  }

  function words(value) {
    return String(value || "").split(/\s+/).filter(function (word) { return word.length > 0; });
  }

  function idsOf(event) {
    var ids = [];
    if (Array.isArray(event.resources)) { ids = event.resources.map(String); }
    if (event.resource !== undefined && event.resource !== null) { ids.push(String(event.resource)); }
    return ids;
  }

  function matches(element, event) {
    var type = String(event.type || "");
    var wanted = words(element.getAttribute("data-live-types"));
    var typeMatches = wanted.some(function (prefix) { return type.indexOf(prefix) === 0; });
    if (!typeMatches) { return false; }
    var only = words(element.getAttribute("data-live-ids"));
    if (!only.length) { return true; }
    var named = idsOf(event);
    if (!named.length) { return true; }
    // federation.synced lists at most 100 ids; a larger recompute ("count" above the list) may include ours.
    if (typeof event.count === "number" && event.count > named.length) { return true; }
    return named.some(function (id) { return only.indexOf(id) !== -1; });
  }

  function isEditing(element) {
    var active = document.activeElement;
    if (active && active !== body && element.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) {
      return true;
    }
    return Array.prototype.some.call(element.querySelectorAll("input, textarea"), function (field) {
      if (field.type === "checkbox" || field.type === "radio") { return field.checked !== field.defaultChecked; }
      return field.type !== "hidden" && field.value !== field.defaultValue;
    });
  }

  function fire(key) {
    delete pending[key];
    var element = current(key);
    if (!element || !window.htmx) { return; }
    if (isEditing(element)) {
      pending[key] = window.setTimeout(function () { fire(key); }, EDITING_RETRY_MS);
      return;
    }
    window.htmx.trigger(element, "live-refresh");
  }

  function count(element) {
    var n = (parseInt(element.dataset.liveSeen || "0", 10) || 0) + 1;
    element.dataset.liveSeen = String(n);
    var text = element.querySelector(".live-count");
    if (text) {
      var format = ngettext(element.dataset.textOne || "%(n)s new", element.dataset.textOther || "%(n)s new", n);
      text.textContent = format.replace("%(n)s", String(n));
    }
    element.hidden = false;
  }

  function schedule(element) {
    var key = keyOf(element);
    if (pending[key]) { return; }  // joins the refresh already scheduled
    pending[key] = window.setTimeout(function () { fire(key); }, COALESCE_MS);
  }

  function liveElements() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live-types]"));
  }

  body.addEventListener("paas:event", function (domEvent) {
    var event = domEvent.detail;
    if (!event || typeof event !== "object") { return; }
    liveElements().forEach(function (element) {
      if (!matches(element, event)) { return; }
      if (element.hasAttribute("data-live-count")) { count(element); } else { schedule(element); }
    });
  });

  body.addEventListener("paas:reset", function () {
    liveElements().forEach(function (element) {
      if (!element.hasAttribute("data-live-count")) { schedule(element); }
    });
  });

  // Mark live refreshes so the server can tell them from a page view.
  body.addEventListener("htmx:configRequest", function (domEvent) {
    var source = domEvent.detail && domEvent.detail.elt;
    if (source && source.hasAttribute && source.hasAttribute("data-live-types")) {
      domEvent.detail.headers["X-Live-Refresh"] = "1";
    }
  });
}());
