// tenant-backup UI: keeps the page's table or fields current by polling its JSON twin.
// Every value from the cluster is set as text (textContent), never parsed as HTML.
"use strict";

(function () {
  const POLL_MS = 3000;

  function cell(row, text, href) {
    const td = document.createElement("td");
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
    return td;
  }

  function phase(td, value) {
    td.textContent = "";
    const span = document.createElement("span");
    span.className = "phase phase-" + String(value || "").toLowerCase();
    span.textContent = value || "New";
    td.appendChild(span);
  }

  const SVG = "http://www.w3.org/2000/svg";

  function trend(td, r) {
    td.className = "trend";
    td.title = r.trend_note || "";
    if (!r.size_trend && !r.duration_trend) return;
    const svg = document.createElementNS(SVG, "svg");
    const box = document.getElementById("tenants");
    const width = box.getAttribute("data-trend-width");
    const height = box.getAttribute("data-trend-height");
    svg.setAttribute("class", "trend");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    for (const [kind, points] of [["size", r.size_trend], ["duration", r.duration_trend]]) {
      if (!points) continue;
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("class", kind);
      line.setAttribute("points", points);
      svg.appendChild(line);
    }
    td.appendChild(svg);
  }

  function seg(value) {
    return encodeURIComponent(String(value));
  }

  const renderers = {
    tenants(table, rows) {
      const body = document.createElement("tbody");
      for (const r of rows) {
        const tr = document.createElement("tr");
        if (r.failed) tr.className = "failed";
        cell(tr, r.namespace);
        cell(tr, r.tenant, "/t/" + seg(r.namespace) + "/" + seg(r.tenant));
        cell(tr, r.last_success || "never");
        const age = cell(tr, r.last_success_age);
        age.className = "age " + r.freshness;
        age.title = r.freshness + ": against an interval of " + r.interval;
        cell(tr, r.last_size);
        trend(cell(tr, ""), r);
        cell(tr, r.next_run);
        cell(tr, r.running ? String(r.running) : "");
        const latest = cell(tr, "");
        phase(latest, r.latest_phase);
        latest.appendChild(document.createTextNode(" " + (r.latest_reason || "")));
        cell(tr, (r.schedules || []).join(", "));
        body.appendChild(tr);
      }
      table.replaceChild(body, table.tBodies[0]);
    },
    backups(table, rows) {
      const body = document.createElement("tbody");
      for (const r of rows) {
        const tr = document.createElement("tr");
        cell(tr, r.name, "/b/" + seg(r.namespace) + "/" + seg(r.name));
        phase(cell(tr, ""), r.phase);
        cell(tr, r.reason);
        cell(tr, String(r.attempts));
        cell(tr, r.size);
        cell(tr, r.created);
        cell(tr, r.finished);
        body.appendChild(tr);
      }
      table.replaceChild(body, table.tBodies[0]);
    },
    schedules(table, rows) {
      // Only the cells that change: the rows carry server-rendered forms (CSRF tokens).
      for (const r of rows) {
        for (const tr of table.tBodies[0].rows) {
          if (tr.getAttribute("data-key") !== r.name) continue;
          for (const td of tr.querySelectorAll("[data-field]")) {
            const field = td.getAttribute("data-field");
            td.textContent =
              field === "state" ? (r.suspended ? "Suspended" : "Active") : String(r[field] ?? "");
          }
        }
      }
    },
    restores(table, rows) {
      const body = document.createElement("tbody");
      for (const r of rows) {
        const tr = document.createElement("tr");
        cell(tr, r.name, "/r/" + seg(r.namespace) + "/" + seg(r.name));
        cell(tr, r.mode);
        cell(tr, r.source);
        cell(tr, r.target);
        phase(cell(tr, ""), r.phase);
        cell(tr, r.reason);
        cell(tr, r.created);
        cell(tr, r.finished);
        body.appendChild(tr);
      }
      table.replaceChild(body, table.tBodies[0]);
    },
    object(list, doc) {
      for (const dd of list.querySelectorAll("[data-field]")) {
        const field = dd.getAttribute("data-field");
        if (field === "phase") phase(dd, doc.phase);
        else dd.textContent = String(doc[field] ?? "");
      }
      table("conditions", doc.conditions, ["type", "status", "reason", "message"]);
      table("checks", doc.checks, ["name", "passed", "value", "expected", "error"]);
      refreshSection("download", doc.phase);
    },
  };
  renderers.backup = renderers.object;

  // A server-rendered section that depends on the phase (the download offer): fetched again
  // from the page itself when the phase changes. DOMParser runs no script, and what it parses
  // is the UI's own autoescaped template.
  async function refreshSection(id, phaseNow) {
    const section = document.getElementById(id);
    if (!section || section.getAttribute("data-phase") === String(phaseNow || "")) return;
    section.setAttribute("data-phase", String(phaseNow || ""));
    const response = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById(id);
    if (fresh) section.replaceChildren(...Array.from(fresh.childNodes, (n) => document.importNode(n, true)));
  }

  function table(id, rows, fields) {
    const element = document.getElementById(id);
    if (!element || !rows) return;
    const body = document.createElement("tbody");
    for (const row of rows) {
      const tr = document.createElement("tr");
      for (const field of fields) {
        const td = cell(tr, String(row[field] ?? ""));
        if (field === "message" || field === "error") td.className = "message";
      }
      body.appendChild(tr);
    }
    element.replaceChild(body, element.tBodies[0]);
  }

  async function poll(element) {
    const render = renderers[element.getAttribute("data-kind")];
    try {
      const response = await fetch(element.getAttribute("data-poll"), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.status === 401) {
        window.location.assign("/signin?expired=1");
        return;
      }
      if (response.ok) {
        render(element, await response.json());
        element.setAttribute("data-updated", new Date().toISOString());
      }
    } catch (error) {
      // the next poll tries again
    }
    setTimeout(() => poll(element), POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const element of document.querySelectorAll("[data-poll]")) {
      setTimeout(() => poll(element), POLL_MS);
    }
  });
})();
