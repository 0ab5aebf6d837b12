/*
 * The artifact upload on the new-build page (templates/builds/start.html): sends the form
 * with XMLHttpRequest so the browser's upload progress can be shown (<progress>), then puts
 * the new artifact into the build form's artifact list and selects it. Without JavaScript
 * the form posts normally and the server redirects back with the artifact selected.
 * Messages come from the form's data-msg-* attributes (translated by the template).
 */
(function () {
  "use strict";

  var form = document.getElementById("artifact-upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var progress = document.getElementById("artifact-upload-progress");
  var status = document.getElementById("artifact-upload-status");
  var button = form.querySelector("button[type=submit]");

  function fill(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, function (match, key) {
      return values[key] !== undefined ? String(values[key]) : match;
    });
  }

  function say(text, kind) {
    status.textContent = text;
    status.className = "small mb-2 " + (kind === "error" ? "text-danger" : kind === "ok" ? "text-success"
      : "text-body-secondary");
  }

  function choose(artifact) {
    var select = document.getElementById(form.dataset.select);
    if (!select) { return; }
    var value = String(artifact.id);
    var existing = Array.prototype.find.call(select.options, function (o) { return o.value === value; });
    if (!existing) {
      existing = new Option(artifact.label, value);
      select.insertBefore(existing, select.options.length > 1 ? select.options[1] : null);
    }
    select.value = value;
  }

  form.addEventListener("submit", function (event) {
    var input = form.querySelector("input[type=file]");
    if (!input || !input.files || !input.files.length) { return; }  // the server says what is missing
    event.preventDefault();
    var file = input.files[0];
    var max = parseInt(form.dataset.maxBytes || "0", 10);
    if (max && file.size > max) {
      say(form.dataset.msgTooLarge, "error");
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    var csrf = form.querySelector("[name=csrfmiddlewaretoken]");
    if (csrf) { xhr.setRequestHeader("X-CSRFToken", csrf.value); }
    progress.hidden = false;
    progress.value = 0;
    button.disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var percent = Math.floor(e.loaded * 100 / e.total);
      progress.value = percent;
      say(percent >= 100 ? form.dataset.msgHashing : fill(form.dataset.msgUploading, {percent: percent}));
    });
    xhr.addEventListener("load", function () {
      button.disabled = false;
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      if ((xhr.status === 200 || xhr.status === 201) && answer && answer.id) {
        progress.value = 100;
        choose(answer);
        say(fill(form.dataset.msgDone, {name: answer.filename, sha: answer.sha256}), "ok");
        form.reset();
        return;
      }
      progress.hidden = true;
      var reason = answer && answer.error && answer.error.message ? answer.error.message : "HTTP " + xhr.status;
      say(fill(form.dataset.msgFailed, {reason: reason}), "error");
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      progress.hidden = true;
      say(form.dataset.msgNetwork, "error");
    });
    xhr.send(new FormData(form));
  });
}());
