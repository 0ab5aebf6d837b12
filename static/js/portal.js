/* Portal behaviour: confirmation dialogs, copy buttons, slug suggestions,
   tooltips and htmx error toasts. Works without it too: forms still post. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");
  document.body && document.body.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function escapeText(text) {
    const div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  /* Small toast helper, also used by other scripts (window.portalToast). */
  function toast(message, level) {
    const area = document.getElementById("toast-area");
    if (!area || !window.bootstrap) return;
    const colours = { success: "success", error: "danger", danger: "danger", warning: "warning", info: "primary" };
    const icons = { success: "check-circle-fill", danger: "x-octagon-fill", warning: "exclamation-triangle-fill", primary: "info-circle-fill" };
    const colour = colours[level] || "primary";
    const el = document.createElement("div");
    el.className = "toast align-items-center border-0 shadow";
    el.setAttribute("role", level === "error" || level === "danger" ? "alert" : "status");
    el.innerHTML =
      '<div class="d-flex"><div class="toast-body d-flex gap-2 align-items-start">' +
      '<i class="bi bi-' + icons[colour] + ' text-' + colour + '" aria-hidden="true"></i><div>' +
      escapeText(message) + '</div></div>' +
      '<button type="button" class="btn-close me-2 m-auto" data-bs-dismiss="toast"></button></div>';
    area.appendChild(el);
    const t = new window.bootstrap.Toast(el, { delay: 6000 });
    el.addEventListener("hidden.bs.toast", function () { el.remove(); });
    t.show();
  }
  window.portalToast = toast;

  /* Confirmation for destructive actions: <form data-confirm="…" data-confirm-title="…" data-confirm-button="…"> */
  function setupConfirm() {
    const modalEl = document.getElementById("confirmModal");
    if (!modalEl || !window.bootstrap) return;
    const modal = window.bootstrap.Modal.getOrCreateInstance(modalEl);
    const titleEl = modalEl.querySelector("[data-confirm-title]");
    const bodyEl = modalEl.querySelector("[data-confirm-body]");
    const okBtn = modalEl.querySelector("[data-confirm-ok]");
    const defaultTitle = titleEl.textContent;
    const defaultOk = okBtn.textContent;
    let pending = null;

    document.addEventListener("submit", function (event) {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
      if (form.dataset.confirmed === "1") { delete form.dataset.confirmed; return; }
      event.preventDefault();
      event.stopImmediatePropagation();
      pending = { form: form, submitter: event.submitter || null };
      titleEl.textContent = form.dataset.confirmTitle || defaultTitle;
      bodyEl.textContent = form.dataset.confirm;
      okBtn.textContent = form.dataset.confirmButton || defaultOk;
      okBtn.className = "btn " + (form.dataset.confirmVariant === "primary" ? "btn-primary" : "btn-danger");
      loadPreview(form.dataset.confirmPreview);
      modal.show();
    }, true);

    /* data-confirm-preview="<url>": an HTML fragment (e.g. a DR drill's impact) shown under the question. */
    function loadPreview(url) {
      modalEl.querySelector(".modal-dialog").classList.toggle("modal-lg", !!url);
      if (!url) return;
      const box = document.createElement("div");
      box.className = "mt-3 confirm-preview";
      box.setAttribute("aria-busy", "true");
      box.textContent = "…";
      bodyEl.appendChild(box);
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { box.innerHTML = html; })
        .catch(function () { box.textContent = ""; })
        .finally(function () { box.removeAttribute("aria-busy"); });
    }

    okBtn.addEventListener("click", function () {
      if (!pending) return;
      const { form, submitter } = pending;
      pending = null;
      form.dataset.confirmed = "1";
      okBtn.disabled = true;
      modal.hide();
      if (form.requestSubmit) form.requestSubmit(submitter || undefined);
      else form.submit();
      setTimeout(function () { okBtn.disabled = false; }, 800);
    });
    modalEl.addEventListener("shown.bs.modal", function () { okBtn.focus(); });
  }

  /* Copy to clipboard: <button data-copy-target="#id"> */
  function setupCopy() {
    document.addEventListener("click", function (event) {
      const btn = event.target.closest("[data-copy-target]");
      if (!btn) return;
      const target = document.querySelector(btn.dataset.copyTarget);
      if (!target) return;
      const text = target.value !== undefined ? target.value : target.textContent;
      const done = function () {
        const label = btn.querySelector("[data-copy-label]");
        const original = label ? label.textContent : null;
        btn.classList.add("btn-success");
        if (label) label.textContent = btn.dataset.copiedText || "Copied";
        setTimeout(function () {
          btn.classList.remove("btn-success");
          if (label) label.textContent = original;
        }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { target.select(); });
      } else {
        target.focus();
        target.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* user copies by hand */ }
      }
    });
  }

  /* Suggest a slug from the name until the user edits the slug: <input data-slug-from="id_name"> */
  function setupSlugs() {
    document.querySelectorAll("[data-slug-from]").forEach(function (slug) {
      const source = document.getElementById(slug.dataset.slugFrom);
      if (!source) return;
      let touched = slug.value !== "";
      slug.addEventListener("input", function () { touched = slug.value !== ""; });
      source.addEventListener("input", function () {
        if (touched) return;
        slug.value = source.value.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
          .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
      });
    });
  }

  function setupTooltips(root) {
    if (!window.bootstrap) return;
    (root || document).querySelectorAll('[data-bs-toggle="tooltip"]').forEach(function (el) {
      window.bootstrap.Tooltip.getOrCreateInstance(el);
    });
  }

  /* Token expiry: typing a date clears the day count and vice versa. */
  function setupExclusive() {
    document.querySelectorAll("[data-exclusive-with]").forEach(function (el) {
      const other = document.getElementById(el.dataset.exclusiveWith);
      if (!other) return;
      el.addEventListener("input", function () { if (el.value) other.value = ""; });
    });
  }

  function setupHtmx() {
    document.body.addEventListener("htmx:responseError", function (event) {
      const status = event.detail.xhr ? event.detail.xhr.status : 0;
      const messages = document.body.dataset;
      let text = messages.msgError || "The change was not saved.";
      if (status === 403) text = messages.msgForbidden || text;
      else if (status === 404) text = messages.msgNotFound || text;
      toast(text, "danger");
    });
    document.body.addEventListener("htmx:sendError", function () {
      toast(document.body.dataset.msgOffline || "The server could not be reached.", "danger");
    });
    document.body.addEventListener("htmx:afterSwap", function (event) { setupTooltips(event.detail.target); });
  }

  ready(function () {
    document.body.classList.add("js");
    setupConfirm();
    setupCopy();
    setupSlugs();
    setupTooltips();
    setupExclusive();
    setupHtmx();
  });
})();
