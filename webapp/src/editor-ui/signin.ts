/** The sign-in page. */
import { ApiError, api } from './api';
import { h } from './dom';
import { signInFailureMessage } from './messages';

export function signInView(options: { notice?: string; onSignedIn: () => void }): HTMLElement {
  const error = h('p', {
    class: 'callout error',
    attrs: { role: 'alert', id: 'signin-error', hidden: true },
  });
  const username = h('input', {
    class: 'input',
    attrs: {
      id: 'username',
      name: 'username',
      autocomplete: 'username',
      required: true,
      autocapitalize: 'none',
      spellcheck: 'false',
    },
  });
  const password = h('input', {
    class: 'input',
    attrs: {
      id: 'password',
      name: 'password',
      type: 'password',
      autocomplete: 'current-password',
      required: true,
    },
  });
  const submit = h('button', {
    class: 'button primary wide',
    text: 'Sign in',
    attrs: { type: 'submit' },
  });
  const form = h(
    'form',
    // method=post: should the script ever not handle the submit, the password stays out of the URL.
    { class: 'signin-form', attrs: { method: 'post', 'aria-describedby': 'signin-error' } },
    h('label', { class: 'field-label', text: 'Username', attrs: { for: 'username' } }),
    username,
    h('label', { class: 'field-label', text: 'Password', attrs: { for: 'password' } }),
    password,
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    api
      .signIn(username.value, password.value)
      .then(() => options.onSignedIn())
      .catch((err: unknown) => {
        error.textContent =
          err instanceof ApiError ? signInFailureMessage(err) : 'Sign-in failed unexpectedly.';
        error.hidden = false;
        submit.disabled = false;
        submit.textContent = 'Sign in';
        password.select();
        password.focus();
      });
  });
  const view = h(
    'main',
    { class: 'signin', attrs: { id: 'main' } },
    h(
      'div',
      { class: 'signin-card' },
      h('h1', { class: 'brand-title', text: 'Reflex' }),
      h('p', {
        class: 'muted',
        text: 'Sign in to edit this app. Every save is committed, pushed and deployed.',
      }),
      options.notice
        ? h('p', { class: 'callout warning', text: options.notice, attrs: { role: 'status' } })
        : null,
      error,
      form,
    ),
  );
  queueMicrotask(() => username.focus());
  return view;
}
