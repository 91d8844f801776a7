// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  var form = document.getElementById("questions");
  if (form) {
    var url = form.getAttribute("data-autosave");
    var token = form.querySelector("input[name=csrf_token]");
    var status = document.getElementById("saved");
    var progress = document.getElementById("progress");
    var base = progress ? Number(progress.value) : 0;
    var update = function () {
      if (progress) {
        progress.value = base + form.querySelectorAll("input[type=radio]:checked").length;
      }
    };
    var save = function (answers, comment) {
      if (!window.fetch || !url) { return; }
      var body = { answers: answers };
      if (comment !== undefined) { body.comment = comment; }
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
        body: JSON.stringify(body)
      }).then(function (r) {
        if (status && r.ok && !r.redirected) {
          status.textContent = form.getAttribute("data-saved-text") || "\u2713";
        }
      }).catch(function () { /* offline: the page's own submit still saves */ });
    };
    // On a small screen, bring the next unanswered question up after each choice,
    // so the respondent sees one question at a time without hunting for it.
    var advance = function (box) {
      var boxes = Array.prototype.slice.call(form.querySelectorAll("fieldset.question"));
      var next = boxes.slice(boxes.indexOf(box) + 1).filter(function (b) {
        return !b.querySelector("input:checked");
      })[0] || form.querySelector(".nav");
      if (next && next.scrollIntoView && window.innerHeight < 900) {
        setTimeout(function () { next.scrollIntoView({ behavior: "smooth", block: "start" }); }, 250);
      }
    };
    form.addEventListener("change", function (event) {
      var input = event.target;
      if (input.type === "radio") {
        var answers = {};
        answers[input.name] = input.value;
        save(answers);
        update();
        var box = input.closest("fieldset");
        if (box) { box.classList.remove("missing"); }
        advance(box);
      } else if (input.name === "comment") {
        save({}, input.value);
      }
    });
    update();
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  }
  var submitForm = document.getElementById("submit-form");
  if (submitForm) {
    // A second tap does nothing here; the server also stores exactly one response.
    submitForm.addEventListener("submit", function () {
      var button = document.getElementById("submit");
      setTimeout(function () { if (button) { button.disabled = true; } }, 0);
    });
  }
})();
