/* Live progress of running jobs: every element with data-progress-url is refreshed every two
   seconds from that staff-only JSON view, without reloading the page. Text is set with
   textContent only (never HTML). */
(function () {
  "use strict";
  var PERIOD_MS = 2000;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function jobItem(job) {
    var item = element("li");
    item.dataset.job = job.id;
    var head = element("div");
    var link = element("a", "rsh-link", job.title + " · " + job.store);
    link.href = job.url;
    head.appendChild(link);
    head.appendChild(document.createTextNode(" "));
    head.appendChild(element("span", "rsh-state rsh-tone-busy", job.status));
    item.appendChild(head);
    var bar = element("div", "rsh-bar");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", String(job.percent));
    var fill = element("span");
    fill.style.width = job.percent + "%";
    bar.appendChild(fill);
    item.appendChild(bar);
    item.appendChild(element("div", "rsh-job-text", job.text));
    return item;
  }

  function render(container, jobs) {
    var list = container.querySelector(".rsh-jobs");
    var empty = container.querySelector(".rsh-jobs-empty");
    list.replaceChildren.apply(list, jobs.map(jobItem));
    if (empty) empty.hidden = jobs.length > 0;
    container.dataset.updatedAt = String(Date.now());
  }

  function poll(container) {
    fetch(container.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) render(container, data.jobs); })
      .catch(function () {})
      .then(function () { window.setTimeout(function () { poll(container); }, PERIOD_MS); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-progress-url]").forEach(function (container) {
      window.setTimeout(function () { poll(container); }, PERIOD_MS);
    });
  });
})();
