/*
 * Global search in the top bar (templates/includes/global_search.html).
 *
 * Ctrl-K (Cmd-K on a Mac) focuses the box from anywhere; typing asks
 * /api/v1/search/?q= (the same scoped search as the /search/ page) and lists the
 * hits grouped by kind. Arrow keys move through them, Enter opens the selected one
 * (or, with none selected, the full /search/ page: the form's plain submit), Escape
 * closes the list. Answers to older keystrokes are dropped, so a slow reply never
 * replaces a newer one. Everything from the server is inserted as text, never HTML.
 */
(function () {
  "use strict";

  var form = document.querySelector(".global-search");
  if (!form) {
    return;
  }
  var input = form.querySelector(".global-search-input");
  var list = form.querySelector(".global-search-results");
  var api = form.dataset.searchApi;
  var DEBOUNCE_MS = 150;
  var timer = null;
  var latest = 0;
  var active = -1;

  function options() {
    return Array.prototype.slice.call(list.querySelectorAll("[role=option]"));
  }

  function open() {
    list.classList.add("show");
    input.setAttribute("aria-expanded", "true");
  }

  function close() {
    list.classList.remove("show");
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function select(index) {
    var items = options();
    if (!items.length) {
      return;
    }
    active = (index + items.length) % items.length;
    items.forEach(function (item, i) {
      item.classList.toggle("active", i === active);
      item.setAttribute("aria-selected", i === active ? "true" : "false");
    });
    input.setAttribute("aria-activedescendant", items[active].id);
    items[active].scrollIntoView({block: "nearest"});
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function note(text) {
    list.replaceChildren(element("span", "dropdown-item-text small text-body-secondary", text));
    open();
  }

  function option(href, title, subtitle, n) {
    var link = element("a", "dropdown-item py-2");
    link.href = href;
    link.id = "global-search-option-" + n;
    link.setAttribute("role", "option");
    link.setAttribute("aria-selected", "false");
    link.appendChild(element("div", "fw-semibold text-break", title));
    if (subtitle) {
      link.appendChild(element("div", "small text-body-secondary text-break", subtitle));
    }
    return link;
  }

  function render(query, payload) {
    var nodes = [];
    var n = 0;
    (payload.groups || []).forEach(function (group) {
      var header = element("h6", "dropdown-header d-flex align-items-center gap-2");
      var icon = element("i", "bi bi-" + String(group.icon || "").replace(/[^a-z0-9-]/g, ""));
      icon.setAttribute("aria-hidden", "true");
      header.appendChild(icon);
      header.appendChild(document.createTextNode(group.label));
      header.setAttribute("data-kind", group.kind);
      nodes.push(header);
      group.hits.forEach(function (hit) {
        nodes.push(option(hit.url, hit.title, hit.subtitle, n++));
      });
    });
    if (!n) {
      nodes.push(element("span", "dropdown-item-text small text-body-secondary", form.dataset.msgNothing));
    }
    nodes.push(element("div", "dropdown-divider"));
    var all = option(form.action + "?q=" + encodeURIComponent(query),
                     form.dataset.msgAll.replace("%(q)s", query), "", n);
    all.classList.add("small");
    nodes.push(all);
    list.replaceChildren.apply(list, nodes);
    active = -1;
    open();
  }

  function run() {
    var query = input.value.trim();
    if (!query) {
      close();
      return;
    }
    var ticket = ++latest;
    fetch(api + "?q=" + encodeURIComponent(query), {
      credentials: "same-origin",
      headers: {"Accept": "application/json"},
    }).then(function (response) {
      return response.json().then(function (data) {
        return {ok: response.ok, data: data};
      });
    }).then(function (result) {
      if (ticket !== latest) {
        return;  // a newer keystroke has its own request
      }
      if (result.ok) {
        render(query, result.data);
      } else {
        var fields = (result.data.error && result.data.error.fields) || {};
        note((fields.q && fields.q[0]) || form.dataset.msgError);
      }
    }).catch(function () {
      if (ticket === latest) {
        note(form.dataset.msgError);
      }
    });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  });

  input.addEventListener("focus", function () {
    if (input.value.trim() && list.childElementCount) {
      open();
    }
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!list.classList.contains("show")) {
        run();
        return;
      }
      select(active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter" && active >= 0 && list.classList.contains("show")) {
      event.preventDefault();
      window.location.assign(options()[active].href);
    } else if (event.key === "Escape" && list.classList.contains("show")) {
      event.preventDefault();  // the first Escape closes the list; a second one clears the box
      close();
    }
  });

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && String(event.key).toLowerCase() === "k") {
      event.preventDefault();
      if (input.offsetParent === null) {  // hidden on a narrow screen: the search page instead
        window.location.assign(form.action);
        return;
      }
      input.focus();
      input.select();
    }
  });

  document.addEventListener("click", function (event) {
    if (!form.contains(event.target)) {
      close();
    }
  });
})();
