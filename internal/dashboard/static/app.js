// Trackelio Webhooks dashboard: the few things that need script. Every page
// works without it, except copying to the clipboard and the live result of
// a test event (without script the test form answers with a new page).
// Text from the server is only ever set as textContent, never as HTML.
(function () {
  'use strict';

  // Times in the reader's locale; the exact UTC time stays as the title.
  var fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  document.querySelectorAll('time[data-local]').forEach(function (el) {
    var d = new Date(el.getAttribute('datetime'));
    if (!isNaN(d)) el.textContent = fmt.format(d);
  });

  // Copy buttons are hidden until script can make them work.
  document.querySelectorAll('button[data-copy]').forEach(function (btn) {
    var input = document.getElementById(btn.getAttribute('data-copy'));
    if (!input) return;
    btn.hidden = false;
    btn.addEventListener('click', function () {
      var done = function () {
        btn.textContent = 'Copied';
        setTimeout(function () { btn.textContent = 'Copy'; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { legacyCopy(input); done(); });
      } else {
        legacyCopy(input);
        done();
      }
    });
  });
  function legacyCopy(input) {
    input.select();
    try { document.execCommand('copy'); } catch (e) { /* the text stays selected for Ctrl+C */ }
  }

  // "Select all" ticks every event; the server also reads it on its own.
  document.querySelectorAll('input[data-select-all]').forEach(function (all) {
    var boxes = all.form.querySelectorAll('input[name="events"]');
    var sync = function () {
      var n = 0;
      boxes.forEach(function (b) { if (b.checked) n++; });
      all.checked = n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    };
    all.addEventListener('change', function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      all.indeterminate = false;
    });
    boxes.forEach(function (b) { b.addEventListener('change', sync); });
    sync();
  });

  // Send test event: the endpoint's answer appears in place.
  document.querySelectorAll('form[data-live-test]').forEach(function (form) {
    var out = document.getElementById('test-result');
    var button = form.querySelector('button[type="submit"]');
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
      out.replaceChildren(para('Sending a test event and waiting for the answer…'));
      fetch(form.action, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Accept': 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(new FormData(form))
      }).then(function (res) {
        if (!res.ok) throw new Error('the dashboard answered ' + res.status);
        return res.json();
      }).then(show, function (err) {
        out.replaceChildren(alertBox('The test event could not be sent: ' + err.message + '. Reload the page and try again.'));
      }).finally(function () {
        button.disabled = false;
        button.removeAttribute('aria-busy');
      });
    });

    function show(r) {
      var nodes = [];
      if (r.problem) {
        var p = alertBox(r.problem + ' ');
        if (r.delivery_url) p.appendChild(link(r.delivery_url, 'Open the delivery'));
        out.replaceChildren(p);
        return;
      }
      var dl = el('dl', 'stats compact');
      dl.appendChild(stat('Result', outcome(r.succeeded)));
      dl.appendChild(stat('Status code', code(r.status_code)));
      dl.appendChild(stat('Duration', text(r.duration_ms ? r.duration_ms + ' ms' : 'under 1 ms')));
      nodes.push(dl);
      if (r.error) nodes.push(alertBox(r.error));
      var label = el('p', 'label');
      label.textContent = 'Response body' + (r.response_truncated ? ' (truncated)' : '');
      nodes.push(label);
      var pre = el('pre', 'code response');
      pre.tabIndex = 0;
      pre.textContent = r.response_body;
      nodes.push(pre);
      var more = el('p');
      more.appendChild(link(r.delivery_url, 'Open the delivery'));
      nodes.push(more);
      out.replaceChildren.apply(out, nodes);
    }
  });

  function el(tag, cls) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    return e;
  }
  function text(s) { return document.createTextNode(s); }
  function para(s) { var p = el('p', 'muted'); p.textContent = s; return p; }
  function alertBox(s) { var p = el('p', 'alert'); p.textContent = s; return p; }
  function link(href, s) { var a = el('a'); a.href = href; a.textContent = s; return a; }
  function stat(name, value) {
    var d = el('div'), dt = el('dt'), dd = el('dd');
    dt.textContent = name;
    dd.appendChild(value);
    d.appendChild(dt);
    d.appendChild(dd);
    return d;
  }
  function outcome(ok) {
    var s = el('span', 'outcome outcome-' + (ok ? 'ok' : 'fail')), dot = el('span', 'dot');
    dot.setAttribute('aria-hidden', 'true');
    s.appendChild(dot);
    s.appendChild(text(ok ? 'Succeeded' : 'Failed'));
    return s;
  }
  function code(n) {
    var s = el('span', 'code ' + (n ? (n >= 200 && n <= 299 ? 'ok' : 'fail') : 'none'));
    s.textContent = n ? String(n) : '—';
    return s;
  }
})();
