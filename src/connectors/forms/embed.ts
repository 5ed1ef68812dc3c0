import type { FormConfig } from '../../core/config/config.schema.js';

/**
 * The browser side of the embed snippet, as plain ES5 and fetch, with no dependency: it must run
 * on any site, next to whatever the site already loads. `__CONFIG__` is replaced by the form's
 * settings. It never calls preventDefault and swallows its own errors, so the site's form submits
 * exactly as before; the copy to the hub goes out with keepalive, which outlives the navigation.
 */
const SNIPPET = `/* crm-hub form embed: copies a form's submissions to the hub; the form itself is left alone. */
(function () {
  'use strict';
  var config = __CONFIG__;
  var script = document.currentScript;
  if (!script || !script.src || typeof window.fetch !== 'function' || typeof window.FormData !== 'function') return;
  var endpoint = script.src.replace(/\\/embed\\.js(?:[?#].*)?$/, '');
  var selector = script.getAttribute('data-form');
  var form = null;
  if (selector) {
    form = document.querySelector(selector);
  } else {
    for (var el = script.previousElementSibling; el; el = el.previousElementSibling) {
      if (el.tagName === 'FORM') { form = el; break; }
    }
  }
  if (!form || form.tagName !== 'FORM') {
    if (window.console) window.console.warn('crm-hub: no form found for form "' + config.formId + '" (put the script after the form, or give data-form="<selector>")');
    return;
  }
  if (form.getAttribute('data-crm-hub') === 'on') return;
  form.setAttribute('data-crm-hub', 'on');
  // A honeypot: hidden from people, filled in by bots. Hidden by style, not type="hidden", which bots skip.
  if (config.honeypot && !form.elements.namedItem(config.honeypot)) {
    var trap = document.createElement('input');
    trap.type = 'text';
    trap.name = config.honeypot;
    trap.tabIndex = -1;
    trap.autocomplete = 'off';
    trap.setAttribute('aria-hidden', 'true');
    trap.style.display = 'none';
    form.appendChild(trap);
  }
  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    return String(Date.now()) + '-' + Math.random().toString(36).slice(2);
  }
  form.addEventListener('submit', function () {
    try {
      var data = new FormData();
      // Files stay with the site: the hub gets their names only, and the request stays small enough for keepalive.
      new FormData(form).forEach(function (value, name) {
        data.append(name, typeof value === 'string' ? value : value && value.name ? '[file ' + value.name + ']' : '');
      });
      window.fetch(endpoint, {
        method: 'POST',
        body: data,
        mode: 'cors',
        credentials: 'omit',
        keepalive: true,
        redirect: 'manual',
        headers: { 'Idempotency-Key': newKey() }
      }).catch(function () { /* the site's own submit matters more */ });
    } catch (e) { /* never break the site's form */ }
  });
})();
`;

/** The embed script for one form: paste `<script src="https://<hub>/v1/forms/<id>/embed.js"></script>` under the form. */
export function embedScript(form: Pick<FormConfig, 'id' | 'honeypot'>): string {
  // JSON is valid JavaScript; "<" escaped so the text is also safe inside an inline <script>.
  const config = JSON.stringify({ formId: form.id, honeypot: form.honeypot ?? null }).replace(/</g, '\\u003c');
  return SNIPPET.replace('__CONFIG__', () => config);
}
