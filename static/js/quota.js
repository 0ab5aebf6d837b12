/* Quota bars: Bootstrap progress bars whose widths come from data-quota-width (a percent).
   Set from JS because the CSP refuses style attributes in HTML; without JS the figures
   beside each bar still say everything. */
(function () {
  "use strict";
  function size(root) {
    (root || document).querySelectorAll("[data-quota-width]").forEach(function (el) {
      const value = Math.max(0, Math.min(100, parseFloat(el.dataset.quotaWidth) || 0));
      el.style.width = value + "%";
    });
  }
  document.addEventListener("htmx:afterSwap", function (e) { size(e.target); });
  if (document.readyState !== "loading") size(document);
  else document.addEventListener("DOMContentLoaded", function () { size(document); });
})();
