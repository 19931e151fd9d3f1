/*! relatedcontent widget: fills <div data-related-to="ID"></div> with its
 * "You might also like" block, fetched as an escaped HTML fragment from the
 * relatedcontent server (with a thumbnail for each item that has an image).
 *
 *   <div data-related-to="bin-collection-changes-christmas" data-n="5"></div>
 *   <script src="https://related.example.org/widget.js" async></script>
 *
 * The server's address is the directory of this script's src; override it with
 * data-base-url on the script tag or on an element. Optional attributes on the
 * element: data-n (items, default 5), data-heading (heading text), data-read-more
 * (text of the "Read more" links), data-lang (language of the block's words, lang
 * and dir; default: the lang of the nearest element that has one, such as <html lang="cy">,
 * else the article's own language).
 * Each element gets data-rc-state="loading", then "loaded", "empty" or "error",
 * and an "rc:loaded" event (or "rc:error") is dispatched on it.
 * window.relatedContent.fill(element) and .scan(root) load elements added later.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var scriptBase = null;
  if (script) {
    scriptBase = script.getAttribute("data-base-url");
    if (!scriptBase && script.src) {
      scriptBase = new URL(".", script.src).href;
    }
  }

  function baseFor(el) {
    var base = el.getAttribute("data-base-url") || scriptBase || "/";
    return base.charAt(base.length - 1) === "/" ? base : base + "/";
  }

  function urlFor(el) {
    var id = el.getAttribute("data-related-to");
    var params = new URLSearchParams();
    var n = el.getAttribute("data-n");
    var heading = el.getAttribute("data-heading");
    var readMore = el.getAttribute("data-read-more");
    var langEl = el.closest ? el.closest("[lang]") : null;
    var lang = el.getAttribute("data-lang") || (langEl ? langEl.getAttribute("lang") : "");
    if (n) { params.set("n", n); }
    if (heading) { params.set("heading", heading); }
    if (readMore) { params.set("read_more", readMore); }
    if (lang && /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$/.test(lang)) { params.set("lang", lang); }
    var query = params.toString();
    return baseFor(el) + "related/" + encodeURIComponent(id) + ".html" + (query ? "?" + query : "");
  }

  function done(el, state, detail) {
    el.setAttribute("data-rc-state", state);
    var name = state === "error" ? "rc:error" : "rc:loaded";
    var event;
    try {
      event = new CustomEvent(name, { bubbles: true, detail: detail });
    } catch (e) {
      return;
    }
    el.dispatchEvent(event);
  }

  function fill(el) {
    var id = el.getAttribute("data-related-to");
    if (!id) { return Promise.resolve(); }
    el.setAttribute("data-rc-state", "loading");
    return fetch(urlFor(el), { credentials: "omit", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        // The server escapes every title, teaser, link and image URL of the fragment.
        // Thumbnails are <img loading="lazy"> with width and height: parsed here, they
        // load when scrolled near and keep their box meanwhile. Relative links and
        // image URLs resolve against this page, as the site's own would.
        el.innerHTML = html;
        var empty = !el.querySelector(".rc-item");
        done(el, empty ? "empty" : "loaded", { id: id });
      })
      .catch(function (error) {
        done(el, "error", { id: id, error: String(error) });
      });
  }

  function scan(root) {
    var nodes = (root || document).querySelectorAll("[data-related-to]:not([data-rc-state])");
    var jobs = [];
    for (var i = 0; i < nodes.length; i++) { jobs.push(fill(nodes[i])); }
    return Promise.all(jobs);
  }

  window.relatedContent = { fill: fill, scan: scan };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { scan(document); });
  } else {
    scan(document);
  }
})();
