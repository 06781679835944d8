/* Aerie embeds, StatHat-compatible: paste
 *   <script src="//HOST/javascripts/embed.js"></script>
 *   <script>StatHatEmbed.render({s1: 'KEY', w: 760, h: 235, tf: 'week_compare'});</script>
 * and the graph appears right after the calling script, refreshed every `refresh`
 * seconds (default 60, at least 30; 0 turns it off). Keys are embed keys, which open
 * one shared stat and nothing else. Plain ES5, no dependencies; the only global is
 * StatHatEmbed. The fragment is fetched from the host this file came from, which
 * answers with Access-Control-Allow-Origin: * and no cookies are sent.
 */
(function (window, document) {
  "use strict";
  if (window.StatHatEmbed) { return; } // the snippet pasted twice: keep the first copy

  var SCRIPT_PATH = "/javascripts/embed.js";
  var DEFAULT_REFRESH = 60;
  var MIN_REFRESH = 30;
  var PARAMS = ["w", "h", "tf", "style", "title"];

  function ownScript() {
    if (document.currentScript && endsWith(document.currentScript.src, SCRIPT_PATH)) {
      return document.currentScript;
    }
    var scripts = document.getElementsByTagName("script");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (endsWith(scripts[i].src.split("?")[0], SCRIPT_PATH)) { return scripts[i]; }
    }
    return null;
  }

  function endsWith(text, tail) {
    return !!text && text.length >= tail.length && text.slice(-tail.length) === tail;
  }

  // Learnt once, while this file runs: later calls come from other scripts.
  var self = ownScript();
  var ORIGIN = self ? self.src.slice(0, self.src.split("?")[0].length - SCRIPT_PATH.length)
                    : "";

  // The script that called render: the one running now, or else the last one parsed
  // so far (the page is still being parsed while inline snippets run).
  function callingScript() {
    if (document.currentScript) { return document.currentScript; }
    var scripts = document.getElementsByTagName("script");
    return scripts[scripts.length - 1] || null;
  }

  function fragmentUrl(kind, opts) {
    var keys = [];
    for (var i = 1; i <= 3; i++) {
      if (opts["s" + i]) { keys.push(encodeURIComponent(String(opts["s" + i]))); }
    }
    var query = [];
    for (var j = 0; j < PARAMS.length; j++) {
      var name = PARAMS[j];
      if (opts[name] !== undefined && opts[name] !== null && opts[name] !== "") {
        query.push(name + "=" + encodeURIComponent(String(opts[name])));
      }
    }
    return ORIGIN + "/embed/" + kind + "/" + keys.join("/") +
      (query.length ? "?" + query.join("&") : "");
  }

  function refreshSeconds(opts) {
    if (opts.refresh === 0 || opts.refresh === "0") { return 0; }
    var seconds = Number(opts.refresh === undefined ? DEFAULT_REFRESH : opts.refresh);
    if (!(seconds > 0)) { return DEFAULT_REFRESH; }
    return Math.max(seconds, MIN_REFRESH);
  }

  // Fetches the fragment and puts it in the box; the ETag makes an unchanged one a 304,
  // and an unchanged fragment is not put in again (the image would flicker).
  function loader(box, url) {
    var shown = null;
    var done = function (html) {
      if (html !== shown) {
        shown = html;
        box.innerHTML = html;
      }
    };
    return function () {
      if (window.fetch) {
        window.fetch(url, {cache: "no-cache", credentials: "omit", mode: "cors"})
          .then(function (answer) { return answer.text(); })
          .then(done, function () { /* offline: keep what is shown, try again later */ });
        return;
      }
      var xhr = new XMLHttpRequest();
      xhr.open("GET", url);
      xhr.onload = function () { done(xhr.responseText); };
      xhr.send();
    };
  }

  // After the calling script, and after the boxes its earlier calls inserted, so that
  // several calls in one script appear in the order they were made.
  function place(box) {
    var anchor = callingScript();
    if (!anchor || !anchor.parentNode) {
      document.body.appendChild(box);
      return;
    }
    while (anchor.nextSibling && anchor.nextSibling.className === "stathat-embed-box") {
      anchor = anchor.nextSibling;
    }
    anchor.parentNode.insertBefore(box, anchor.nextSibling);
  }

  function render(kind, opts) {
    opts = opts || {};
    var box = document.createElement("div");
    box.className = "stathat-embed-box";
    place(box);
    var load = loader(box, fragmentUrl(kind, opts));
    load();
    var every = refreshSeconds(opts);
    if (every) {
      box.setAttribute("data-refresh", String(every));
      window.setInterval(load, every * 1000);
    }
    return box;
  }

  function renderer(kind) {
    return function (opts) { return render(kind, opts); };
  }

  window.StatHatEmbed = {
    render: renderer("graph"),
    render_graph: renderer("graph"),
    render_histogram: renderer("histogram"),
    render_data: renderer("data"),
    render_table: renderer("table"),
    render_text: renderer("text")
  };
})(window, document);
