/*
 * Small inline SVG charts of the release page (no library, no inline style: CSP).
 * window.ReleaseCharts.line(values, options) -> <svg> element
 *   values: numbers (null = no value), oldest first
 *   options: {min, max, threshold, okFlags: [bool], label}
 * Colours come from CSS classes (static/releases/releases.css).
 */
(function () {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";
  var WIDTH = 280;
  var HEIGHT = 64;
  var PAD = 4;

  function el(name, attrs) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    return node;
  }

  function finite(v) { return typeof v === "number" && isFinite(v); }

  function line(values, options) {
    options = options || {};
    var svg = el("svg", {viewBox: "0 0 " + WIDTH + " " + HEIGHT, "class": "release-chart", role: "img",
                         preserveAspectRatio: "none"});
    if (options.label) {
      var title = el("title");
      title.textContent = options.label;
      svg.appendChild(title);
    }
    var numbers = values.filter(finite);
    var lo = finite(options.min) ? options.min : Math.min.apply(null, numbers.concat([0]));
    var hi = finite(options.max) ? options.max : Math.max.apply(null, numbers.concat([lo + 1e-9]));
    if (finite(options.threshold)) {
      lo = Math.min(lo, options.threshold);
      hi = Math.max(hi, options.threshold * 1.2 || hi);
    }
    if (hi - lo < 1e-9) { hi = lo + 1; }
    var n = values.length;
    function x(i) { return n <= 1 ? WIDTH / 2 : PAD + i * (WIDTH - 2 * PAD) / (n - 1); }
    function y(v) { return HEIGHT - PAD - (v - lo) * (HEIGHT - 2 * PAD) / (hi - lo); }

    svg.appendChild(el("rect", {x: 0, y: 0, width: WIDTH, height: HEIGHT, "class": "release-chart-bg"}));
    if (finite(options.threshold)) {
      svg.appendChild(el("line", {x1: 0, x2: WIDTH, y1: y(options.threshold), y2: y(options.threshold),
                                  "class": "release-chart-threshold"}));
    }
    var path = [];
    values.forEach(function (v, i) { if (finite(v)) { path.push(x(i).toFixed(1) + "," + y(v).toFixed(1)); } });
    if (path.length > 1) {
      svg.appendChild(el("polyline", {points: path.join(" "), "class": "release-chart-line"}));
    }
    values.forEach(function (v, i) {
      if (!finite(v)) { return; }
      var ok = !options.okFlags || options.okFlags[i] !== false;
      svg.appendChild(el("circle", {cx: x(i), cy: y(v), r: n > 60 ? 1.5 : 2.5,
                                    "class": ok ? "release-chart-ok" : "release-chart-bad"}));
    });
    return svg;
  }

  window.ReleaseCharts = {line: line};
}());
