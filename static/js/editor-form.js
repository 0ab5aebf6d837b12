/* Form mode for workload templates (Deployment, StatefulSet, … : anything with
   spec.template.spec.containers): image, replicas, container ports, environment,
   resources and readiness/liveness probes of one container.

   The editor's YAML stays the only source of truth. Switching to the form reads the
   fields from it; every change in the form parses the current text with eemeli/yaml
   (bundled as PaasCodeMirror.YAML), sets or deletes just that one value in the
   document (comments and every field the form does not show are kept) and writes the
   text back to the editor, as one undoable change. Switching back shows that text.
   editor.js calls PaasEditorForms.workload(view, textarea, env) for a textarea with
   data-editor-forms="workload"; the markup comes from federation/_editor_form.html. */
(function () {
  "use strict";

  const CONTAINERS = ["spec", "template", "spec", "containers"];
  const PROBES = ["readinessProbe", "livenessProbe"];
  const PROBE_KINDS = ["httpGet", "tcpSocket"];
  const PRINT = { flowCollectionPadding: false, indentSeq: false, lineWidth: 0 };

  function text(value) {
    return value === undefined || value === null ? "" : String(value);
  }

  function integer(value) {
    const v = String(value).trim();
    return /^-?\d+$/.test(v) ? parseInt(v, 10) : v === "" ? undefined : v;
  }

  /* A quantity ("500m", "1Gi") stays a string; a plain number becomes one, as kubectl writes it. */
  function quantity(value) {
    const v = String(value).trim();
    return v === "" ? undefined : /^\d+$/.test(v) ? parseInt(v, 10) : v;
  }

  function workload(view, textarea, env) {
    const YAML = env.CM.YAML;
    const switchTemplate = document.getElementById("editor-mode-switch");
    const formTemplate = document.getElementById("editor-workload-form");
    if (!switchTemplate || !formTemplate) return;
    const shell = view.dom.parentElement;
    const bar = switchTemplate.content.firstElementChild.cloneNode(true);
    const panel = formTemplate.content.firstElementChild.cloneNode(true);
    panel.hidden = true;
    shell.insertAdjacentElement("beforebegin", bar);
    shell.insertAdjacentElement("beforebegin", panel);
    const note = bar.querySelector("[data-mode-note]");
    let container = 0;

    const field = function (name) { return panel.querySelector('[data-f="' + name + '"]'); };
    const at = function (rest) { return CONTAINERS.concat([container], rest); };

    function parse() {
      const doc = YAML.parseDocument(view.state.doc.toString(), { uniqueKeys: false });
      return doc.errors.length ? null : doc;
    }

    function containersOf(doc) {
      const list = doc.getIn(CONTAINERS);
      return YAML.isSeq(list) && list.items.length ? list : null;
    }

    function plain(node) {
      return node && typeof node.toJSON === "function" ? node.toJSON() : node;
    }

    /* deleteIn throws when a collection on the way is missing: nothing to delete then. */
    function drop(doc, path) {
      if (doc.hasIn(path)) doc.deleteIn(path);
    }

    /* Set `path` to `value`, or delete it when the value is empty; then drop the maps
       that deleting left empty, up to (not including) `keep` path elements. */
    function put(doc, path, value, keep) {
      if (value === undefined || value === "") {
        drop(doc, path);
        for (let p = path.slice(0, -1); p.length > (keep || path.length - 1); p = p.slice(0, -1)) {
          const node = doc.getIn(p);
          if (YAML.isMap(node) && node.items.length === 0) doc.deleteIn(p);
          else break;
        }
      } else {
        doc.setIn(path, value);
      }
    }

    function edit(change) {
      const doc = parse();
      if (!doc || !containersOf(doc)) return;
      change(doc);
      env.setText(view, doc.toString(PRINT));
    }

    /* --- YAML -> form ---------------------------------------------------------- */

    function fillProbe(doc, name) {
      const probe = plain(doc.getIn(at([name]))) || {};
      const kind = PROBE_KINDS.find(function (k) { return probe[k]; }) || "";
      const other = !kind && Object.keys(probe).some(function (k) { return k === "exec" || k === "grpc"; });
      const select = field(name + ".type");
      select.value = kind;
      select.disabled = other; // exec/grpc probes: YAML only, the form leaves them alone
      field(name + ".path").value = text(kind === "httpGet" ? probe.httpGet.path : "");
      field(name + ".port").value = text(kind ? probe[kind].port : "");
      field(name + ".initialDelaySeconds").value = text(probe.initialDelaySeconds);
      field(name + ".periodSeconds").value = text(probe.periodSeconds);
      showProbe(name);
    }

    function showProbe(name) {
      const kind = field(name + ".type").value;
      panel.querySelector('[data-probe="' + name + '"] [data-probe-http]').hidden = kind !== "httpGet";
      ["port", "initialDelaySeconds", "periodSeconds"].forEach(function (k) { field(name + "." + k).disabled = !kind; });
    }

    function fillList(doc, list) {
      const host = panel.querySelector('[data-list="' + list + '"]');
      const rowTemplate = document.getElementById("editor-row-" + list);
      const items = plain(doc.getIn(at([list]))) || [];
      host.replaceChildren();
      (Array.isArray(items) ? items : []).forEach(function (item, index) {
        const row = rowTemplate.content.firstElementChild.cloneNode(true);
        row.dataset.list = list;
        row.dataset.index = String(index);
        row.querySelectorAll("[data-k]").forEach(function (input) {
          input.value = text((item || {})[input.dataset.k]);
        });
        if (list === "env" && item && item.valueFrom) {
          const value = row.querySelector('[data-k="value"]');
          value.disabled = true;
          value.placeholder = env.messages.envRef || "";
        }
        host.appendChild(row);
      });
    }

    function fill() {
      const doc = parse();
      if (!doc) return env.messages.syntax;
      const containers = containersOf(doc);
      if (!containers) return env.messages.notWorkload;
      if (container >= containers.items.length) container = 0;
      const select = field("container");
      select.replaceChildren.apply(select, containers.items.map(function (item, index) {
        const option = document.createElement("option");
        option.value = String(index);
        option.textContent = text((plain(item) || {}).name) || "#" + (index + 1);
        return option;
      }));
      select.value = String(container);
      panel.querySelector("[data-containers]").hidden = containers.items.length < 2;
      field("image").value = text(doc.getIn(at(["image"])));
      field("replicas").value = text(doc.getIn(["spec", "replicas"]));
      ["requests", "limits"].forEach(function (kind) {
        ["cpu", "memory", "ephemeral-storage"].forEach(function (res) {
          field("resources." + kind + "." + res).value = text(doc.getIn(at(["resources", kind, res])));
        });
      });
      PROBES.forEach(function (name) { fillProbe(doc, name); });
      fillList(doc, "ports");
      fillList(doc, "env");
      return "";
    }

    /* --- form -> YAML ---------------------------------------------------------- */

    function applyProbe(doc, name, key, value) {
      const kind = field(name + ".type").value;
      const base = at([name]);
      if (key === "type") {
        if (!value) return drop(doc, base);
        const port = integer(field(name + ".port").value) || 80;
        PROBE_KINDS.forEach(function (k) { if (k !== value) drop(doc, base.concat([k])); });
        if (value === "httpGet") doc.setIn(base.concat(["httpGet", "path"]), field(name + ".path").value || "/");
        doc.setIn(base.concat([value, "port"]), port);
      } else if (kind && key === "path") {
        put(doc, base.concat(["httpGet", "path"]), value.trim() || "/");
      } else if (kind && key === "port") {
        put(doc, base.concat([kind, "port"]), integer(value));
      } else if (kind) {
        put(doc, base.concat([key]), integer(value), base.length);
      }
    }

    function applyField(doc, name, value) {
      const parts = name.split(".");
      if (name === "image") put(doc, at(["image"]), value.trim());
      else if (name === "replicas") put(doc, ["spec", "replicas"], integer(value));
      else if (parts[0] === "resources") put(doc, at(parts), quantity(value), at([]).length);
      else if (PROBES.indexOf(parts[0]) >= 0) applyProbe(doc, parts[0], parts[1], value);
    }

    function applyRow(doc, list, index, key, value) {
      const v = key === "containerPort" ? integer(value) : key === "name" ? value.trim() : value;
      put(doc, at([list, index, key]), v, at([list, index]).length);
    }

    function addRow(list) {
      edit(function (doc) {
        const item = list === "ports" ? { containerPort: 8080 } : { name: "NEW_VARIABLE", value: "" };
        const path = at([list]);
        if (YAML.isSeq(doc.getIn(path))) doc.addIn(path, doc.createNode(item));
        else doc.setIn(path, doc.createNode([item]));
      });
      fill();
    }

    function removeRow(list, index) {
      edit(function (doc) {
        drop(doc, at([list, index]));
        const rest = doc.getIn(at([list]));
        if (YAML.isSeq(rest) && rest.items.length === 0) doc.deleteIn(at([list]));
      });
      fill();
    }

    panel.addEventListener("input", function (event) {
      const target = event.target;
      if (target.dataset.f === "container") {
        container = parseInt(target.value, 10) || 0;
        fill();
      } else if (target.dataset.f) {
        edit(function (doc) { applyField(doc, target.dataset.f, target.value); });
        const probe = target.dataset.f.split(".");
        if (probe[1] === "type") {
          const doc = parse();
          if (doc) fillProbe(doc, probe[0]); // shows the defaults the change wrote (port 80, path /)
        }
      } else if (target.dataset.k) {
        const row = target.closest("[data-row]");
        edit(function (doc) {
          applyRow(doc, row.dataset.list, parseInt(row.dataset.index, 10), target.dataset.k, target.value);
        });
      }
    });
    panel.addEventListener("click", function (event) {
      const add = event.target.closest("[data-add]");
      const remove = event.target.closest("[data-remove]");
      if (add) addRow(add.dataset.add);
      else if (remove) {
        const row = remove.closest("[data-row]");
        removeRow(row.dataset.list, parseInt(row.dataset.index, 10));
      }
    });

    /* --- switching ------------------------------------------------------------- */

    function show(mode) {
      if (mode === "form") {
        const problem = fill();
        note.textContent = problem;
        if (problem) return;
      } else {
        note.textContent = "";
      }
      panel.hidden = mode !== "form";
      shell.hidden = mode === "form";
      bar.querySelectorAll("[data-mode]").forEach(function (button) {
        const on = button.dataset.mode === mode;
        button.classList.toggle("active", on);
        button.setAttribute("aria-pressed", on ? "true" : "false");
      });
      bar.dataset.current = mode;
      if (mode === "yaml") view.requestMeasure();
    }

    bar.addEventListener("click", function (event) {
      const button = event.target.closest("[data-mode]");
      if (button) show(button.dataset.mode);
    });
  }

  window.PaasEditorForms = Object.assign(window.PaasEditorForms || {}, { workload: workload });
})();
