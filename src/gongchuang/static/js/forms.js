// A form refused tells what went wrong next to the field, with what was typed put back. The
// server answers a refused form with the page it came from and a JSON block #form-problem
// ({action, detail, fields: [{field, message}]}, in the reader's language); this script puts
// back what the person typed (kept in sessionStorage as the form left; never passwords, and a
// chosen file cannot be put back), gives each field named aria-invalid and its message
// (aria-describedby), shows the message at the top of the form (role=alert) and moves the
// focus to the first field in trouble. A field may answer to another name with
// data-error-for="name …" (the photo input for evidence_file_id). Without this script the
// message stands at the top of the page (#form-problem-banner), which this script moves into
// the form.
(function () {
  var counter = 0;
  var KEY = "gongchuang-form:";

  function controlsFor(form, field) {
    var names = [field, field.split(".")[0], field.split("[")[0]];
    for (var i = 0; i < names.length; i++) {
      var found = Array.prototype.filter.call(form.elements, function (el) {
        var also = (el.getAttribute("data-error-for") || "").split(/\s+/);
        return el.type !== "hidden" && (el.name === names[i] || also.indexOf(names[i]) >= 0);
      });
      if (found.length) return found;
    }
    return [];
  }

  function describe(el, id) {
    var ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    if (ids.indexOf(id) < 0) ids.unshift(id);
    el.setAttribute("aria-describedby", ids.join(" "));
  }

  function clear(form) {
    form.querySelectorAll("[data-form-problem]").forEach(function (note) {
      var id = note.id;
      form.querySelectorAll("[aria-describedby~='" + id + "']").forEach(function (el) {
        var rest = el.getAttribute("aria-describedby").split(/\s+/).filter(function (x) { return x && x !== id; });
        if (rest.length) el.setAttribute("aria-describedby", rest.join(" "));
        else el.removeAttribute("aria-describedby");
      });
      note.remove();
    });
    form.querySelectorAll("[aria-invalid][data-form-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("data-form-invalid");
    });
  }

  function note(text, className) {
    var element = document.createElement("p");
    element.id = "form-problem-" + (++counter);
    element.className = className;
    element.setAttribute("data-form-problem", "");
    element.textContent = text;
    return element;
  }

  function show(form, problem) {
    clear(form);
    var summary = note(problem.detail || problem.title || "", "form-problem");
    summary.setAttribute("role", "alert");
    summary.tabIndex = -1;
    form.insertBefore(summary, form.firstChild);
    var first = null;
    var marked = {};
    (problem.fields || []).forEach(function (item) {
      var controls = controlsFor(form, item.field);
      if (!controls.length || marked[controls[0].name]) return;
      marked[controls[0].name] = true;
      var message = note(item.message || problem.detail, "field-error");
      var group = controls[0].closest("fieldset");
      var single = controls.length === 1 || !group;
      if (single) {
        var label = controls[0].closest("label");
        (label || controls[0]).insertAdjacentElement("afterend", message);
      } else {
        var legend = group.querySelector("legend");
        if (legend) legend.insertAdjacentElement("afterend", message);
        else group.insertBefore(message, group.firstChild);
      }
      controls.forEach(function (el) {
        el.setAttribute("aria-invalid", "true");
        el.setAttribute("data-form-invalid", "");
        describe(el, message.id);
      });
      first = first || controls[0];
    });
    (first || summary).focus();
  }

  // A choice may make another field required: <option data-requires="photo"> marks the
  // element with id "photo" required (and shows its [data-required-mark="photo"]) while chosen.
  function applyRequires(select) {
    var wanted = {};
    Array.prototype.forEach.call(select.options, function (option) {
      var id = option.getAttribute("data-requires");
      if (id) wanted[id] = wanted[id] || option.selected;
    });
    Object.keys(wanted).forEach(function (id) {
      var field = document.getElementById(id);
      if (!field) return;
      field.required = wanted[id];
      if (wanted[id]) field.setAttribute("aria-required", "true");
      else field.removeAttribute("aria-required");
      document.querySelectorAll('[data-required-mark="' + id + '"]').forEach(function (mark) {
        mark.hidden = !wanted[id];
      });
    });
  }
  function setupRequires() {
    document.querySelectorAll("select").forEach(function (select) {
      if (select.querySelector("option[data-requires]")) applyRequires(select);
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target instanceof HTMLSelectElement && event.target.querySelector("option[data-requires]")) {
      applyRequires(event.target);
    }
  });
  function path(form) {
    try { return new URL(form.action, location.href).pathname; } catch (e) { return ""; }
  }

  // What the person typed, as the form leaves: hidden fields too (they tell apart forms that
  // share an action, one per shop item), never passwords, tokens or files.
  function remember(form) {
    var values = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrf_token" || el.type === "password" || el.type === "file" ||
          el.type === "submit" || el.type === "button") return;
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) return;
      if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.selectedOptions, function (o) { values.push([el.name, o.value, "select"]); });
        return;
      }
      values.push([el.name, el.value, el.type === "hidden" ? "hidden" : "field"]);
    });
    try { sessionStorage.setItem(KEY + path(form), JSON.stringify(values)); } catch (e) { /* private mode */ }
  }

  function restore(form, values) {
    var byName = {};
    values.forEach(function (v) { (byName[v[0]] = byName[v[0]] || []).push(v[1]); });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !(el.name in byName) || el.type === "hidden" || el.type === "file" ||
          el.type === "password" || el.name === "csrf_token") return;
      var given = byName[el.name];
      if (el.type === "checkbox" || el.type === "radio") el.checked = given.indexOf(el.value) >= 0;
      else if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.options, function (o) { o.selected = given.indexOf(o.value) >= 0; });
      } else el.value = given[0];
    });
  }

  function matches(form, values) {
    return values.every(function (v) {
      if (v[2] !== "hidden") return true;
      var el = form.elements[v[0]];
      return !el || (el.value === undefined ? true : el.value === v[1]);
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || (form.getAttribute("method") || "").toLowerCase() !== "post") return;
    // After every other handler: a form whose sending was stopped (confirm said no) is not
    // remembered.
    setTimeout(function () { if (!event.defaultPrevented) remember(form); }, 0);
  });

  function setup() {
    setupRequires();
    var block = document.getElementById("form-problem");
    var stored = {};
    for (var i = sessionStorage.length - 1; i >= 0; i--) {
      var key = sessionStorage.key(i);
      if (key && key.indexOf(KEY) === 0) {
        try { stored[key] = JSON.parse(sessionStorage.getItem(key)); } catch (e) { stored[key] = []; }
        sessionStorage.removeItem(key);
      }
    }
    if (!block) return;
    var problem = JSON.parse(block.textContent);
    var values = stored[KEY + problem.action] || [];
    var forms = Array.prototype.filter.call(document.forms, function (f) { return path(f) === problem.action; });
    var form = forms.filter(function (f) { return matches(f, values); })[0] || forms[0];
    if (!form) return;
    var banner = document.getElementById("form-problem-banner");
    if (banner) banner.remove();
    restore(form, values);
    Array.prototype.forEach.call(form.querySelectorAll("select"), function (select) {
      if (select.querySelector("option[data-requires]")) applyRequires(select);
    });
    show(form, problem);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
