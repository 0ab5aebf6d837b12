/* The Dockerfile editor (templates/dockerfiles/editor.html): CodeMirror 6 from the vendored
   bundle (window.PaasCodeMirror), plain text with line numbers.

   Progressive enhancement: the <textarea data-editor="dockerfile"> stays the form field; it is
   hidden, the editor is put after it, and every change is written back to it, so the Save
   form and the "Lint" button (htmx, hx-include of the textarea) send what the editor shows.
   Without JavaScript the textarea works as it is.

   Lint findings: #lint-results carries them in data-findings (JSON: line, severity, message,
   code, source). They become CodeMirror diagnostics (a marker in the gutter, the line
   underlined, red for errors, amber for warnings) that follow their text while it is edited;
   after the Lint button swaps in a new #lint-results they are replaced. Each entry of the list
   (data-jump-line) moves the cursor to its line.

   CSP: CodeMirror puts its styles into a <style> element at run time; this script's own tag
   carries the request's nonce, handed to CodeMirror (EditorView.cspNonce). */
(function () {
  "use strict";

  const CM = window.PaasCodeMirror;
  const script = document.currentScript;
  const nonce = (script && script.nonce) || "";
  if (!CM) return;

  let view = null;

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function findings() {
    const box = document.getElementById("lint-results");
    if (!box) return [];
    try {
      const list = JSON.parse(box.dataset.findings || "[]");
      return Array.isArray(list) ? list : [];
    } catch (err) {
      return [];
    }
  }

  function lineAt(doc, number) {
    const n = Math.min(Math.max(parseInt(number, 10) || 1, 1), doc.lines);
    return doc.line(n);
  }

  function diagnostics(doc, list) {
    return list.map(function (f) {
      const line = lineAt(doc, f.line);
      const severity = ["error", "warning", "info"].indexOf(f.severity) >= 0 ? f.severity : "info";
      return { from: line.from, to: line.to, severity: severity, source: f.code || f.source || "",
               message: String(f.message || "") };
    });
  }

  function mark() {
    if (!view) return;
    view.dispatch(CM.setDiagnostics(view.state, diagnostics(view.state.doc, findings())));
  }

  function jump(number) {
    if (!view) return;
    const line = lineAt(view.state.doc, number);
    view.dispatch({ selection: { anchor: line.from, head: line.to }, scrollIntoView: true });
    view.focus();
  }

  function theme(rows) {
    const height = Math.max(rows || 12, 6) * 1.45 + 0.6 + "em";
    return CM.EditorView.theme({
      "&": { fontSize: ".8125rem", backgroundColor: "var(--bs-body-bg)", borderRadius: "inherit" },
      "&.cm-focused": { outline: "none" },
      ".cm-scroller": { fontFamily: "var(--bs-font-monospace)", minHeight: height, maxHeight: "75vh",
                        lineHeight: "1.45" },
      ".cm-content": { minHeight: height },
      ".cm-gutters": { backgroundColor: "var(--bs-tertiary-bg)", borderRight: "1px solid var(--bs-border-color)",
                       color: "var(--bs-secondary-color)", borderRadius: "inherit" },
      ".cm-activeLine": { backgroundColor: "rgba(13,110,253,.05)" },
      ".cm-activeLineGutter": { backgroundColor: "rgba(13,110,253,.1)" },
      ".cm-tooltip-lint": { maxWidth: "40rem" },
    });
  }

  function makeEditor(textarea) {
    const shell = document.createElement("div");
    shell.className = "form-control p-0 editor-shell overflow-hidden";
    if (textarea.classList.contains("is-invalid")) shell.classList.add("is-invalid");
    shell.dataset.editorFor = textarea.name;
    textarea.insertAdjacentElement("afterend", shell);
    const label = document.querySelector('label[for="' + textarea.id + '"]');
    const messages = (document.getElementById("dockerfile-editor-messages") || { dataset: {} }).dataset;

    const state = CM.EditorState.create({
      doc: textarea.value,
      extensions: [
        CM.lineNumbers(), CM.highlightActiveLineGutter(), CM.highlightSpecialChars(), CM.history(),
        CM.drawSelection(), CM.dropCursor(), CM.highlightActiveLine(), CM.highlightSelectionMatches(),
        CM.search({ top: true }), CM.lintGutter(),
        CM.keymap.of([].concat(CM.defaultKeymap, CM.searchKeymap, CM.historyKeymap, CM.lintKeymap,
                               [CM.indentWithTab])),
        CM.EditorView.cspNonce.of(nonce), theme(parseInt(textarea.getAttribute("rows"), 10)),
        CM.EditorView.contentAttributes.of({
          "aria-label": label ? label.textContent.trim() : (messages.editorLabel || "Dockerfile"),
          "spellcheck": "false", "autocapitalize": "none",
        }),
        CM.EditorView.updateListener.of(function (update) {
          if (update.docChanged) textarea.value = update.state.doc.toString();
        }),
      ],
    });
    view = new CM.EditorView({ state: state, parent: shell });
    textarea.hidden = true;
    textarea.classList.add("d-none");
    if (label) label.addEventListener("click", function () { view.focus(); });
    if (textarea.form) {
      textarea.form.addEventListener("submit", function () { textarea.value = view.state.doc.toString(); });
    }
    window.paasDockerfileEditor = view; // for the browser tests
  }

  ready(function () {
    const textarea = document.querySelector("textarea[data-editor='dockerfile']");
    if (textarea) {
      makeEditor(textarea);
      mark();
    }
    document.addEventListener("click", function (event) {
      const target = event.target.closest("[data-jump-line]");
      if (target && view) {
        event.preventDefault();
        jump(target.dataset.jumpLine);
      }
    });
    document.body.addEventListener("htmx:afterSettle", function (event) {
      if (event.target && event.target.id === "lint-results") mark();
      else if (document.getElementById("lint-results") && event.detail && event.detail.elt &&
               event.detail.elt.id === "lint-results") mark();
    });
    document.body.dataset.editorsReady = "true";
  });
})();
