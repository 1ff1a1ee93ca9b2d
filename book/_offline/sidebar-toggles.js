/* convref: make the article header's sidebar buttons (☰ and the page's contents) work.

   Why they do nothing without this script (sphinx-book-theme 1.3.0 on pydata-sphinx-theme
   0.17.1): pydata-sphinx-theme 0.17.1 puts a search field into its top navbar whenever a book
   does not set the theme option `navbar_persistent` itself, which overrides sphinx-book-theme's
   empty navbar. With the navbar comes a second pair of sidebar buttons (`.primary-toggle`,
   `.secondary-toggle`) that sphinx-book-theme's CSS hides. Both themes attach their click
   handlers with `document.querySelector`, that is to the first button of each kind on the page:
   the hidden navbar one. The visible buttons in the article header get no handler, so on a
   phone the chapter list cannot be opened and on a wide screen ☰ does not hide the sidebar
   (reported upstream as pydata-sphinx-theme issue 2451 and sphinx-book-theme issue 917).

   The fix: once the page is parsed, and before either theme looks for its buttons, remove the
   navbar's pair. The browser sets document.readyState to "interactive" before it runs deferred
   scripts (pydata-sphinx-theme's) and before DOMContentLoaded (sphinx-book-theme's handlers),
   so both themes then find the article header's buttons. convref.css hides the navbar itself,
   whose search field repeats the one in the sidebar. The script is registered in _config.yml
   (html_js_files) and loads, without `defer`, in the page's head. */
(function () {
  "use strict";

  var NAVBAR_TOGGLES = "#pst-header .primary-toggle, #pst-header .secondary-toggle";

  function dropNavbarToggles() {
    document.querySelectorAll(NAVBAR_TOGGLES).forEach(function (button) {
      button.remove();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("readystatechange", function onParsed() {
      if (document.readyState !== "loading") {
        document.removeEventListener("readystatechange", onParsed);
        dropNavbarToggles();
      }
    });
  } else {
    // Loaded late (not from the head): the themes may have bound their handlers already, but
    // removing the hidden duplicates still leaves the page no worse.
    dropNavbarToggles();
  }
})();
