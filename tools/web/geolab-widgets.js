// Loaded by the book's pages between require.js and the Jupyter widgets manager (embed-amd.js);
// tools/web_assets.py copies it into _static. Written for this course, not a vendored file.
(function () {
  "use strict";
  // 1. The widgets manager finds its icon fonts next to its own module URL, which RequireJS
  //    derives from the module name: map that name to the copy in _static.
  var here = document.currentScript ? document.currentScript.src : document.baseURI;
  var managerDir = new URL("jupyter-widgets/", here).href.replace(/\/$/, "");
  if (window.requirejs) {
    window.requirejs.config({ paths: { "@jupyter-widgets/html-manager/dist": managerDir } });
  }
  // 2. ipywidgets typesets labels with MathJax 2's MathJax.Hub.Queue; the book loads MathJax 3.
  //    Give it a Hub whose Queue hands the element to MathJax 3 once MathJax is ready.
  function queue() {
    var elements = [];
    for (var i = 0; i < arguments.length; i++) {
      var job = arguments[i];
      if (Array.isArray(job) && job[0] === "Typeset" && job[2]) elements.push(job[2]);
    }
    var mj = window.MathJax;
    if (!mj || !mj.startup) return;
    mj.startup.promise.then(function () {
      return elements.length ? mj.typesetPromise(elements) : mj.typesetPromise();
    });
  }
  function install() {
    if (window.MathJax && !window.MathJax.Hub) window.MathJax.Hub = { Queue: queue };
  }
  install();
  document.addEventListener("DOMContentLoaded", install);
  window.addEventListener("load", install, true);
})();
