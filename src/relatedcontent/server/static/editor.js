/* relatedcontent editor's page: live title search and draft suggestions.
 * The page works without this script (the search form submits); results are
 * built with textContent, never innerHTML. */
(function () {
  "use strict";
  var input = document.getElementById("ed-q");
  var results = document.getElementById("ed-results");
  var nSelect = document.getElementById("ed-n");
  var timer = null;
  var latest = 0;

  function link(id, title, n) {
    var a = document.createElement("a");
    var query = input ? input.value.trim() : "";
    a.href = "?id=" + encodeURIComponent(String(id)) + "&n=" + encodeURIComponent(n) +
      (query ? "&q=" + encodeURIComponent(query) : "");
    a.textContent = title || String(id);
    a.setAttribute("data-id", String(id));
    return a;
  }

  function showResults(list, query) {
    results.textContent = "";
    if (!list.length) {
      var none = document.createElement("li");
      none.className = "ed-none";
      none.textContent = "No title contains \u201c" + query + "\u201d.";
      results.appendChild(none);
      return;
    }
    list.forEach(function (item) {
      var li = document.createElement("li");
      li.appendChild(link(item.id, item.title, nSelect.value));
      var code = document.createElement("code");
      code.className = "ed-id";
      code.textContent = String(item.id);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(code);
      results.appendChild(li);
    });
  }

  function search() {
    var query = input.value.trim();
    if (!query) { results.textContent = ""; return; }
    var ticket = ++latest;
    fetch("search?limit=20&q=" + encodeURIComponent(query))
      .then(function (r) { return r.ok ? r.json() : { results: [] }; })
      .then(function (data) { if (ticket === latest) { showResults(data.results, query); } })
      .catch(function () { /* the form still works */ });
  }

  if (input && results) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
  }

  var draftForm = document.getElementById("ed-draft-form");
  var draftResults = document.getElementById("ed-draft-results");
  if (draftForm && draftResults) {
    draftForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var payload = {
        title: document.getElementById("ed-draft-title").value,
        body: document.getElementById("ed-draft-body").value
      };
      fetch("similar?n=" + encodeURIComponent(nSelect.value), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload)
      })
        .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
        .then(function (answer) {
          draftResults.textContent = "";
          if (!answer.ok) {
            var err = document.createElement("li");
            err.className = "ed-error";
            err.textContent = answer.data.message || "The server refused the draft.";
            draftResults.appendChild(err);
            return;
          }
          if (!answer.data.related.length) {
            var none = document.createElement("li");
            none.className = "ed-none";
            none.textContent = "No indexed article shares a term with this draft.";
            draftResults.appendChild(none);
          }
          answer.data.related.forEach(function (item) {
            var li = document.createElement("li");
            li.appendChild(link(item.id, item.title, nSelect.value));
            li.appendChild(document.createTextNode(" " + Number(item.score).toFixed(3)));
            draftResults.appendChild(li);
          });
        })
        .catch(function () { /* nothing to show */ });
    });
  }
})();
