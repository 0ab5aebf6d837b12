/* Starts ReDoc on /api/redoc/ without an inline script. ReDoc injects its styles as
   <style> elements, which the Content-Security-Policy only accepts with the page's
   nonce: this script carries it (script.nonce) and passes it on. */
(function () {
  "use strict";
  var script = document.currentScript;
  var container = document.getElementById("redoc-container");
  if (!container || !window.Redoc) return;
  window.Redoc.init(container.dataset.specUrl, { nonce: script && script.nonce }, container);
})();
