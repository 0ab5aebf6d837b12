/* Code editor for the YAML textareas of federated resources (CodeMirror 6, vendored
   in static/vendor/codemirror as window.PaasCodeMirror).

   Progressive enhancement: every <textarea data-editor="yaml"> stays the form field.
   It is hidden and an editor is put after it; each change is written back to it (and
   once more on submit), so the form posts exactly what the editor shows. Without
   JavaScript, or if the bundle failed to load, the textareas work as they are.

   Markers: a textarea's data-diagnostics holds the server's errors of the last save,
   each with the line its field path points to (clusters/federation/yaml_lines.py);
   they are shown at that line and follow it while the text is edited. YAML syntax
   errors are found live, in the browser, as you type.

   CSP: CodeMirror puts its styles into a <style> element at run time. The page's
   policy allows no inline style without the request's nonce, which this script's own
   script tag carries in its nonce attribute: it is handed to CodeMirror (EditorView.cspNonce). */
(function () {
  "use strict";

  const CM = window.PaasCodeMirror;
  const script = document.currentScript;
  const nonce = (script && script.nonce) || "";
  if (!CM) return;

  const editors = new Map(); // textarea name -> EditorView
  window.paasEditors = editors; // for editor-form.js and the browser tests

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function messages() {
    return (document.getElementById("editor-messages") || { dataset: {} }).dataset;
  }

  /* --- markers ------------------------------------------------------------------ */

  function lineRange(doc, line, column) {
    const n = Math.min(Math.max(parseInt(line, 10) || 1, 1), doc.lines);
    const l = doc.line(n);
    const from = column ? Math.min(l.from + Math.max(column - 1, 0), l.to) : l.from;
    return { from: from, to: Math.max(l.to, from) };
  }

  /* The server's markers live in a state field so they move with the text they
     point at; they are dropped once their line has been edited. */
  const setServerMarks = CM.StateEffect.define();
  const serverMarks = CM.StateField.define({
    create: function () { return []; },
    update: function (marks, tr) {
      for (const e of tr.effects) if (e.is(setServerMarks)) return e.value;
      if (!tr.docChanged) return marks;
      const kept = [];
      for (const m of marks) {
        let touched = false;
        tr.changes.iterChangedRanges(function (fromA, toA) {
          if (fromA <= m.lineEnd && toA >= m.lineStart) touched = true;
        });
        if (touched) continue;
        kept.push(Object.assign({}, m, {
          from: tr.changes.mapPos(m.from), to: tr.changes.mapPos(m.to, 1),
          lineStart: tr.changes.mapPos(m.lineStart), lineEnd: tr.changes.mapPos(m.lineEnd, 1),
        }));
      }
      return kept;
    },
  });

  function serverDiagnostics(doc, list) {
    const source = messages().server || "server";
    return (list || []).map(function (d) {
      const range = lineRange(doc, d.line, d.column);
      const line = doc.lineAt(range.from);
      return { from: range.from, to: range.to, lineStart: line.from, lineEnd: line.to,
               severity: "error", message: d.message, source: source, syntax: Boolean(d.syntax) };
    });
  }

  function syntaxDiagnostics(text) {
    if (!text.trim()) return [];
    let doc;
    try {
      doc = CM.YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: false });
    } catch (err) {
      return [{ from: 0, to: Math.min(1, text.length), severity: "error", message: String(err) }];
    }
    return doc.errors.map(function (err) {
      const pos = err.pos || [0, 0];
      const from = Math.min(pos[0], text.length);
      return { from: from, to: Math.min(Math.max(pos[1], from), text.length), severity: "error",
               message: String(err.message).split("\n")[0], source: "YAML" };
    });
  }

  function lintSource(view) {
    const syntax = syntaxDiagnostics(view.state.doc.toString());
    const marks = view.state.field(serverMarks).filter(function (m) {
      return !(m.syntax && syntax.length); // the same syntax error, found again here: shown once
    }).map(function (m) {
      return { from: m.from, to: m.to, severity: m.severity, message: m.message, source: m.source };
    });
    return marks.concat(syntax);
  }

  /* --- the editor ----------------------------------------------------------------- */

  function theme(rows) {
    const height = Math.max(rows || 6, 4) * 1.45 + 0.6 + "em";
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
      ".cm-panels": { fontSize: ".8125rem" },
    });
  }

  function contentAttributes(label, described) {
    const attrs = { "aria-label": label ? label.textContent.trim() : (messages().editorLabel || "YAML"),
                    "spellcheck": "false", "autocapitalize": "none" };
    if (described) attrs["aria-describedby"] = described;
    return attrs;
  }

  function makeEditor(textarea) {
    const shell = document.createElement("div");
    shell.className = "form-control p-0 editor-shell overflow-hidden";
    if (textarea.classList.contains("is-invalid")) shell.classList.add("is-invalid");
    shell.dataset.editorFor = textarea.name;
    textarea.insertAdjacentElement("afterend", shell);

    let diagnostics = [];
    try {
      diagnostics = JSON.parse(textarea.dataset.diagnostics || "[]");
    } catch (err) { diagnostics = []; }
    const label = document.querySelector('label[for="' + textarea.id + '"]');
    const described = textarea.getAttribute("aria-describedby");

    const state = CM.EditorState.create({
      doc: textarea.value,
      extensions: [
        CM.lineNumbers(), CM.highlightActiveLineGutter(), CM.highlightSpecialChars(), CM.history(),
        CM.foldGutter(), CM.drawSelection(), CM.dropCursor(), CM.indentOnInput(),
        CM.indentUnit.of("  "), CM.EditorState.tabSize.of(2),
        CM.syntaxHighlighting(CM.defaultHighlightStyle, { fallback: true }), CM.bracketMatching(),
        CM.closeBrackets(), CM.highlightActiveLine(), CM.highlightSelectionMatches(), CM.search({ top: true }),
        CM.keymap.of([].concat(CM.closeBracketsKeymap, CM.defaultKeymap, CM.searchKeymap, CM.historyKeymap,
                               CM.foldKeymap, CM.lintKeymap, [CM.indentWithTab])),
        CM.placeholder(textarea.getAttribute("placeholder") || ""), CM.yamlLanguage(),
        serverMarks, CM.lintGutter(), CM.linter(lintSource, { delay: 400 }),
        CM.EditorView.cspNonce.of(nonce), theme(parseInt(textarea.getAttribute("rows"), 10)),
        CM.EditorView.contentAttributes.of(contentAttributes(label, described)),
        CM.EditorView.updateListener.of(function (update) {
          if (update.docChanged) {
            textarea.value = update.state.doc.toString();
            textarea.dispatchEvent(new Event("editor:change", { bubbles: true }));
          }
        }),
      ],
    });
    const view = new CM.EditorView({ state: state, parent: shell });
    const marks = serverDiagnostics(view.state.doc, diagnostics);
    if (marks.length) {
      view.dispatch({ effects: setServerMarks.of(marks) });
      view.dispatch(CM.setDiagnostics(view.state, lintSource(view)));
    }
    textarea.hidden = true;
    textarea.classList.add("d-none");
    if (label) label.addEventListener("click", function () { view.focus(); });
    if (textarea.form) {
      textarea.form.addEventListener("submit", function () { textarea.value = view.state.doc.toString(); });
    }
    editors.set(textarea.name, view);
    return view;
  }

  /* Replace the whole text, as one undoable step. */
  function setText(view, text) {
    if (view.state.doc.toString() === text) return;
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
  }
  window.paasEditorSetText = setText;

  /* --- starters on the create page ------------------------------------------------- */

  function setupStarters() {
    const data = document.getElementById("editor-starters");
    const select = document.getElementById("id_ftype");
    if (!data || !select) return;
    const starters = JSON.parse(data.textContent);
    const templates = new Set(Object.values(starters).map(function (s) { return s.template; }));
    const overrides = new Set(Object.values(starters).map(function (s) { return s.overrides; }));

    function load(pk, force) {
      const starter = starters[pk];
      if (!starter) return;
      const template = editors.get("template");
      const over = editors.get("overrides");
      const untouched = function (view, known) {
        const text = view.state.doc.toString();
        return !text.trim() || known.has(text);
      };
      // Switching the type keeps what the user wrote; an example is only swapped for another.
      if (template && (force || untouched(template, templates))) setText(template, starter.template);
      if (over && (force || untouched(over, overrides))) setText(over, starter.overrides);
    }

    select.addEventListener("change", function () { load(select.value, false); });
    document.querySelectorAll("[data-starter-type]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        select.value = link.dataset.starterType;
        load(link.dataset.starterType, true); // asked for: replaced (Ctrl-Z brings the text back)
        const view = editors.get("template");
        if (view) view.focus();
      });
    });
  }

  ready(function () {
    document.querySelectorAll("textarea[data-editor='yaml']").forEach(function (textarea) {
      const view = makeEditor(textarea);
      const forms = textarea.dataset.editorForms;
      if (forms && window.PaasEditorForms && window.PaasEditorForms[forms]) {
        window.PaasEditorForms[forms](view, textarea, { CM: CM, setText: setText, messages: messages() });
      }
    });
    setupStarters();
    document.body.dataset.editorsReady = "true"; // the browser tests wait for this
  });
})();
