/*
 * New-release form: "Add a metric" shows the next hidden metric row (the server renders five,
 * the empty ones hidden), and the drain / warm-up fields follow the lossless switch.
 */
(function () {
  "use strict";

  var add = document.getElementById("metric-add");
  if (add) {
    var refresh = function () {
      var hidden = document.querySelectorAll("#metric-rows .metric-row[hidden]");
      add.hidden = hidden.length === 0;
    };
    add.addEventListener("click", function () {
      var next = document.querySelector("#metric-rows .metric-row[hidden]");
      if (next) {
        next.hidden = false;
        var first = next.querySelector("input");
        if (first) { first.focus(); }
      }
      refresh();
    });
    refresh();
  }

  var lossless = document.getElementById("id_lossless");
  if (lossless) {
    var toggle = function () {
      ["id_drain_seconds", "id_warmup_seconds"].forEach(function (id) {
        var field = document.getElementById(id);
        if (field) { field.disabled = !lossless.checked; }
      });
    };
    lossless.addEventListener("change", toggle);
    toggle();
  }
}());
