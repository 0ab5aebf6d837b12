/* Logs tab of the workload drill-down (templates/federation/cluster_logs.html).
 *
 * Show: the log as text. Follow: the same URL family streamed with fetch() and read
 * chunk by chunk into the log box until Stop, the page closing (the browser aborts the
 * request and the server ends the follow) or the server's time limit. Download: a
 * plain link the form keeps up to date. Texts go through the djangojs catalogue
 * (window.gettext) like notifications.js; no inline script or style (strict CSP). */
(function () {
  "use strict";
  var gettext = typeof window.gettext === "function" ? window.gettext : function (s) { return s; };
  var interpolate = typeof window.interpolate === "function" ? window.interpolate : function (fmt, obj) {
    return fmt.replace(/%\((\w+)\)s/g, function (_m, key) { return String(obj[key]); });
  };
  var MAX_CHARS = 2000000; // the box keeps the newest text only: a long follow must not eat the tab's memory

  function init() {
    var card = document.getElementById("drill-logs");
    if (!card || card.dataset.ready) { return; }
    card.dataset.ready = "1";
    var form = document.getElementById("drill-log-form");
    var output = document.getElementById("drill-log-output");
    var status = document.getElementById("drill-log-status");
    var showButton = document.getElementById("drill-show");
    var followButton = document.getElementById("drill-follow");
    var download = document.getElementById("drill-download");
    var containerSelect = document.getElementById("drill-container");
    var follow = null; // the AbortController of the running follow

    function pod() { var select = document.getElementById("drill-pod"); return select && !select.disabled ? select.value : ""; }

    function params() {
      var query = new URLSearchParams();
      query.set("pod", pod());
      if (containerSelect.value) { query.set("container", containerSelect.value); }
      query.set("tailLines", document.getElementById("drill-tail").value);
      if (document.getElementById("drill-timestamps").checked) { query.set("timestamps", "true"); }
      return query.toString();
    }

    function say(text, isError) {
      status.textContent = text;
      status.classList.toggle("text-danger", !!isError);
      status.classList.toggle("text-body-secondary", !isError);
    }

    function fillContainers() {
      var select = document.getElementById("drill-pod");
      var option = select && select.selectedOptions[0];
      var names = option && option.dataset.containers ? option.dataset.containers.split(",") : [];
      var previous = containerSelect.value;
      containerSelect.replaceChildren();
      names.forEach(function (name) {
        var item = document.createElement("option");
        item.value = name; item.textContent = name;
        containerSelect.appendChild(item);
      });
      if (names.indexOf(previous) >= 0) { containerSelect.value = previous; }
      containerSelect.disabled = names.length < 2;
    }

    function refreshControls() {
      var ready = !!pod();
      showButton.disabled = !ready || !!follow;
      followButton.disabled = !ready;
      download.classList.toggle("disabled", !ready);
      download.setAttribute("aria-disabled", ready ? "false" : "true");
      download.href = ready ? card.dataset.downloadUrl + "?" + params() : "#";
    }

    function describe() {
      return interpolate(gettext("Pod %(pod)s, container %(container)s"),
        { pod: pod(), container: containerSelect.value || "—" }, true);
    }

    function show() {
      if (!pod()) { return; }
      say(gettext("Loading the log…"), false);
      fetch(card.dataset.textUrl + "?" + params(), { credentials: "same-origin", headers: { "Accept": "text/plain" } })
        .then(function (response) {
          return response.text().then(function (text) {
            if (!response.ok) { say(text || interpolate(gettext("The log could not be read (HTTP %(status)s)."), { status: response.status }, true), true); return; }
            output.textContent = text;
            output.scrollTop = output.scrollHeight;
            say(text ? describe() : interpolate(gettext("%(what)s: the log is empty."), { what: describe() }, true), false);
          });
        })
        .catch(function () { say(gettext("The server could not be reached."), true); });
    }

    function append(text) {
      var atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 8;
      var all = output.textContent + text;
      output.textContent = all.length > MAX_CHARS ? all.slice(all.length - MAX_CHARS) : all;
      if (atBottom) { output.scrollTop = output.scrollHeight; }
    }

    function setFollowing(on) {
      followButton.setAttribute("aria-pressed", on ? "true" : "false");
      followButton.classList.toggle("btn-outline-primary", !on);
      followButton.classList.toggle("btn-danger", on);
      followButton.querySelector("span").textContent = on ? gettext("Stop") : gettext("Follow");
      followButton.querySelector("i").className = on ? "bi bi-stop-fill me-1" : "bi bi-play-fill me-1";
      refreshControls();
    }

    function stopFollowing(message) {
      if (follow) { follow.abort(); follow = null; }
      setFollowing(false);
      if (message) { say(message, false); }
    }

    function startFollowing() {
      var controller = new AbortController();
      follow = controller;
      setFollowing(true);
      output.textContent = "";
      say(gettext("Connecting…"), false);
      fetch(card.dataset.followUrl + "?" + params(), { credentials: "same-origin", signal: controller.signal })
        .then(function (response) {
          if (!response.ok || !response.body) {
            return response.text().then(function (text) {
              stopFollowing(); say(text || gettext("The log could not be followed."), true);
            });
          }
          say(interpolate(gettext("%(what)s: following live…"), { what: describe() }, true), false);
          output.dataset.following = "true";
          var reader = response.body.getReader();
          var decoder = new TextDecoder();
          function pump() {
            return reader.read().then(function (chunk) {
              if (chunk.done) {
                append(decoder.decode());
                if (follow === controller) { stopFollowing(gettext("Following ended.")); }
                return;
              }
              append(decoder.decode(chunk.value, { stream: true }));
              return pump();
            });
          }
          return pump();
        })
        .catch(function (error) {
          if (error && error.name === "AbortError") { return; }
          if (follow === controller) { stopFollowing(); say(gettext("The connection to the server was lost."), true); }
        })
        .finally(function () { delete output.dataset.following; });
    }

    form.addEventListener("submit", function (event) { event.preventDefault(); show(); });
    form.addEventListener("change", function (event) {
      if (event.target.id === "drill-pod") { fillContainers(); }
      refreshControls();
      if (follow) { stopFollowing(gettext("Following stopped: the options changed.")); }
    });
    followButton.addEventListener("click", function () {
      if (follow) { stopFollowing(gettext("Following stopped.")); } else { startFollowing(); }
    });
    window.addEventListener("pagehide", function () { if (follow) { follow.abort(); } });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.target && event.target.id === "drill-log-pods") {
        fillContainers();
        refreshControls();
        var error = document.getElementById("drill-pods-error");
        if (error) { say(error.textContent, true); } else if (pod()) { show(); } else { say(gettext("This cluster holds no pod of this workload right now."), false); }
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
