// Small progressive enhancements: copy buttons and live provisioning statuses.
// Every page works without this file.
(function () {
  "use strict";

  function setUpCopyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var input = document.getElementById(button.getAttribute("data-copy"));
        input.select();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done, function () {
            document.execCommand("copy");
            done();
          });
        } else {
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  function render(section, data) {
    data.groups.forEach(function (group) {
      group.steps.forEach(function (step) {
        var row = section.querySelector(
          'tr[data-step="' + group.connector + ":" + step.step + '"]');
        if (!row) { return; }
        var badge = row.querySelector(".step-status .status");
        if (badge.textContent !== step.status) {
          badge.textContent = step.status;
          badge.className = "status status-" + step.status.replace(/ /g, "-");
        }
        row.querySelector(".step-detail").textContent = step.detail;
      });
    });
    var failed = data.groups.some(function (g) {
      return g.steps.some(function (s) { return s.status === "failed"; });
    });
    var note = document.getElementById("retry-note");
    if (note) {
      note.hidden = !(failed || data.job);
      document.getElementById("job-problem").textContent = data.job || "";
    }
    var next = document.getElementById("continue");
    if (next) { next.hidden = !data.settled; }
    return data.settled || failed || Boolean(data.job);
  }

  function pollProvisioning() {
    var section = document.getElementById("provisioning");
    if (!section) { return; }
    var url = section.getAttribute("data-status-url");
    var tick = function () {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (answer) { return answer.json(); })
        .then(function (data) {
          if (!render(section, data)) { window.setTimeout(tick, 1000); }
        })
        .catch(function () { window.setTimeout(tick, 5000); });
    };
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpCopyButtons();
    pollProvisioning();
  });
})();
