// Offline search over search-index.js: every word of the query must occur
// in a page's title, headings or text; title hits rank first. Results are
// built from text nodes only.
(function () {
  var input = document.getElementById("q");
  var list = document.getElementById("results");
  if (!input || !list || typeof shoalSearchIndex === "undefined") return;
  var root = input.getAttribute("data-root") || "";
  function score(page, words) {
    var title = page.t.toLowerCase(), heads = page.h ? page.h.join(" ").toLowerCase() : "";
    var text = page.x.toLowerCase(), s = 0;
    for (var i = 0; i < words.length; i++) {
      var w = words[i];
      if (title.indexOf(w) >= 0) s += 10;
      else if (heads.indexOf(w) >= 0) s += 5;
      else if (text.indexOf(w) >= 0) s += 1;
      else return 0;
    }
    return s;
  }
  function snippet(page, word) {
    var i = page.x.toLowerCase().indexOf(word);
    if (i < 0) return page.x.slice(0, 100);
    return "…" + page.x.slice(Math.max(0, i - 40), i + 80) + "…";
  }
  input.addEventListener("input", search);
  // ?q=words opens the page with that search done: links to a search work.
  var m = /[?&]q=([^&]*)/.exec(location.search);
  if (m) {
    input.value = decodeURIComponent(m[1].replace(/\+/g, " "));
    search();
  }
  function search() {
    while (list.firstChild) list.removeChild(list.firstChild);
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) return;
    var hits = shoalSearchIndex
      .map(function (p) { return { p: p, s: score(p, words) }; })
      .filter(function (h) { return h.s > 0; })
      .sort(function (a, b) { return b.s - a.s; })
      .slice(0, 8);
    hits.forEach(function (h) {
      var li = document.createElement("li"), a = document.createElement("a"), small = document.createElement("small");
      a.href = root + h.p.u;
      a.textContent = h.p.t;
      small.textContent = snippet(h.p, words[0]);
      li.appendChild(a);
      li.appendChild(small);
      list.appendChild(li);
    });
    if (!hits.length) {
      var li = document.createElement("li");
      li.textContent = "No page matches.";
      list.appendChild(li);
    }
  }
})();
