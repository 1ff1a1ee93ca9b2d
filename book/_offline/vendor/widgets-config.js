// Set-up for the widget manager served from this book (see README.md beside this file).
(function () {
  // require.js places a module's files under the page's own folder unless told where they are;
  // the manager's CSS asks for its web fonts relative to the module.
  var here = document.currentScript.src;  // .../_static/vendor/widgets-config.js?v=...
  var vendor = here.slice(0, here.split("?")[0].lastIndexOf("/"));
  window.require.config({ paths: { "@jupyter-widgets/html-manager/dist": vendor + "/html-manager" } });

  // The manager draws a widget's figure as an <img> without alt text, after the page has loaded.
  // The build puts the widget cell's alt text beside the widget (book/_ext/offline_pages.py):
  // copy it onto every image the manager adds to that cell.
  function describe(img) {
    if (img.getAttribute("alt")) return;
    var cell = img.closest(".cell");
    var carrier = cell && cell.querySelector(".widget-figure-alt");
    if (carrier) img.setAttribute("alt", carrier.getAttribute("data-alt"));
  }
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      record.addedNodes.forEach(function (node) {
        if (node.nodeType !== 1) return;
        if (node.tagName === "IMG") describe(node);
        else node.querySelectorAll("img").forEach(describe);
      });
    });
  }).observe(document.documentElement, { childList: true, subtree: true });

  // The manager typesets widget labels through MathJax 2's queue; the book loads MathJax 3.
  window.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (!mathjax || mathjax.Hub) return;
    mathjax.Hub = {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (job) {
          if (Array.isArray(job) && job[0] === "Typeset" && mathjax.typesetPromise) mathjax.typesetPromise([job[2]]);
        });
      },
    };
  });
})();
