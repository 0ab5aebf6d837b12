/* Charts of the portal, on the vendored Apache ECharts (static/vendor/echarts/).
   A chart is an element with data-chart="bar|gauge|treemap" and data-chart-data="<id>"
   naming a <script type="application/json"> block (Django's json_script) with its data;
   this file draws it. No inline script and no style attribute is needed (strict CSP):
   sizes are set from JS (element.style), tooltips are drawn on the canvas (richText)
   because ECharts' HTML tooltips carry style attributes the policy refuses.
   ECharts itself is loaded on first use from the URL in data-echarts-src, so pages
   without charts never download it. The language follows <html lang> (Chinese is
   built into ECharts). Reused by the release pages: window.paasCharts.render(root). */
(function () {
  "use strict";
  if (window.paasCharts) return;

  // Bootstrap's colours, so a health colour means the same in a chart and in a badge.
  const HEALTH = { healthy: "#198754", progressing: "#0d6efd", degraded: "#fd7e14", failed: "#dc3545",
                   unknown: "#adb5bd", unreachable: "#dc3545", degraded_cluster: "#fd7e14" };
  const LEVEL = { success: "#198754", warning: "#ffc107", danger: "#dc3545" };

  function locale() {
    return (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0 ? "ZH" : "EN";
  }

  function dataOf(el) {
    const node = document.getElementById(el.dataset.chartData || "");
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  const tooltip = { renderMode: "richText", confine: true };

  const builders = {
    /* {categories: [..], series: [{name, values: [..]}], max?, unit?} */
    bar: function (d) {
      const unit = d.unit || "";
      return {
        tooltip: Object.assign({ trigger: "axis", valueFormatter: function (v) { return v + unit; } }, tooltip),
        legend: { top: 0, type: "scroll" },
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: d.categories, axisLabel: { interval: 0 } },
        yAxis: { type: "value", max: d.max, axisLabel: { formatter: "{value}" + unit } },
        series: (d.series || []).map(function (s) {
          return { name: s.name, type: "bar", data: s.values, barMaxWidth: 28, stack: s.stack };
        }),
      };
    },
    /* {value, max, name, unit?} */
    gauge: function (d) {
      return {
        series: [{ type: "gauge", min: 0, max: d.max || 100, progress: { show: true, width: 12 },
                   axisLine: { lineStyle: { width: 12 } }, pointer: { show: false },
                   detail: { valueAnimation: true, formatter: "{value}" + (d.unit || ""), fontSize: 18 },
                   title: { offsetCenter: [0, "70%"] }, data: [{ value: d.value, name: d.name }] }],
      };
    },
    /* {name, children: [{name, state?, value?, url?, children?}]}; colours by state. */
    treemap: function (d) {
      function paint(node) {
        const out = { name: node.name, value: node.value || 1, url: node.url, state: node.state };
        if (node.state && HEALTH[node.state]) out.itemStyle = { color: HEALTH[node.state] };
        if (node.children && node.children.length) out.children = node.children.map(paint);
        return out;
      }
      return {
        tooltip: Object.assign({ formatter: function (p) {
          const state = p.data && p.data.state ? " · " + p.data.state : "";
          return p.name + state;
        } }, tooltip),
        series: [{ type: "treemap", roam: false, nodeClick: false, breadcrumb: { show: false },
                   left: 0, right: 0, top: 0, bottom: 0, data: (d.children || []).map(paint),
                   label: { show: true, formatter: "{b}", fontWeight: "bold" },
                   upperLabel: { show: true, height: 22, color: "#212529" },
                   // levels[0] is ECharts' hidden root; then the nesting of the data (regions first).
                   levels: [{ itemStyle: { borderWidth: 0, gapWidth: 4 }, upperLabel: { show: false } },
                            { itemStyle: { borderColor: "#ced4da", borderWidth: 4, gapWidth: 4 } },
                            { itemStyle: { borderColor: "#dee2e6", borderWidth: 3, gapWidth: 3 } },
                            { itemStyle: { borderColor: "#f1f3f5", borderWidth: 2, gapWidth: 2 } },
                            { itemStyle: { borderColor: "#ffffff", borderWidth: 1 } }] }],
      };
    },
  };

  function draw(el) {
    const build = builders[el.dataset.chart];
    const data = dataOf(el);
    if (!build || !data || el.dataset.chartReady) return null;
    el.style.height = el.dataset.chartHeight || "260px";
    el.style.width = "100%";
    const chart = window.echarts.init(el, null, { renderer: "canvas", locale: locale() });
    chart.setOption(build(data, el));
    // A node or bar with a url opens it (the treemap's clusters, the dashboard's bars).
    chart.on("click", function (p) {
      if (p.data && p.data.url) window.location.assign(p.data.url);
    });
    el.dataset.chartReady = "1";
    el.paasChart = chart;
    return chart;
  }

  let loading = null;
  function withEcharts(then) {
    if (window.echarts) return then();
    const source = document.querySelector("[data-echarts-src]");
    if (!source) return;
    if (!loading) {
      loading = [];
      const script = document.createElement("script");
      script.src = source.dataset.echartsSrc;
      script.addEventListener("load", function () { loading.forEach(function (fn) { fn(); }); });
      document.head.appendChild(script);
    }
    loading.push(then);
  }

  function render(root) {
    const els = (root || document).querySelectorAll("[data-chart]");
    if (!els.length) return;
    withEcharts(function () { els.forEach(draw); });
  }

  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-chart-ready]").forEach(function (el) { el.paasChart && el.paasChart.resize(); });
  });
  document.addEventListener("htmx:afterSwap", function (e) { render(e.target); });
  // A chart swapped out by htmx lets go of its canvas and listeners.
  document.addEventListener("htmx:beforeCleanupElement", function (e) {
    if (e.target.paasChart) e.target.paasChart.dispose();
  });
  if (document.readyState !== "loading") render(document);
  else document.addEventListener("DOMContentLoaded", function () { render(document); });

  window.paasCharts = { render: render, builders: builders, health: HEALTH, level: LEVEL };
})();
