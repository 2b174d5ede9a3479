// Passkeys through the browser's WebAuthn API. The server sends the options with binary
// fields in base64url; the browser wants ArrayBuffers and returns ArrayBuffers, which go back
// to the server in base64url.

import { api } from './api.js';

/** Checks whether this browser can use passkeys at all. */
export function passkeysSupported() {
  return typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
}

function fromBase64Url(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const binary = window.atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index += 1) {
    bytes[index] = binary.charCodeAt(index);
  }
  return bytes.buffer;
}

function toBase64Url(buffer) {
  if (!buffer) {
    return null;
  }
  let binary = '';
  for (const byte of new Uint8Array(buffer)) {
    binary += String.fromCharCode(byte);
  }
  return window.btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function withBuffers(list) {
  return (list || []).map((entry) => ({ ...entry, id: fromBase64Url(entry.id) }));
}

/** Registers a new passkey named `name` for the logged-in account. */
export async function registerPasskey(name) {
  const options = await api('POST', '/api/auth/webauthn/register/start');
  const publicKey = {
    ...options.publicKey,
    challenge: fromBase64Url(options.publicKey.challenge),
    user: { ...options.publicKey.user, id: fromBase64Url(options.publicKey.user.id) },
    excludeCredentials: withBuffers(options.publicKey.excludeCredentials),
  };
  const created = await navigator.credentials.create({ publicKey });
  const credential = {
    id: created.id,
    rawId: toBase64Url(created.rawId),
    type: created.type,
    extensions: created.getClientExtensionResults(),
    response: {
      attestationObject: toBase64Url(created.response.attestationObject),
      clientDataJSON: toBase64Url(created.response.clientDataJSON),
    },
  };
  return api('POST', '/api/auth/webauthn/register/finish', { name, credential });
}

/** Completes a login `challenge` with a passkey; resolves like the code step. */
export async function loginWithPasskey(challenge) {
  const options = await api('POST', '/api/auth/webauthn/login/start', { challenge });
  const publicKey = {
    ...options.publicKey,
    challenge: fromBase64Url(options.publicKey.challenge),
    allowCredentials: withBuffers(options.publicKey.allowCredentials),
  };
  const asserted = await navigator.credentials.get({ publicKey });
  const credential = {
    id: asserted.id,
    rawId: toBase64Url(asserted.rawId),
    type: asserted.type,
    extensions: asserted.getClientExtensionResults(),
    response: {
      authenticatorData: toBase64Url(asserted.response.authenticatorData),
      clientDataJSON: toBase64Url(asserted.response.clientDataJSON),
      signature: toBase64Url(asserted.response.signature),
      userHandle: toBase64Url(asserted.response.userHandle),
    },
  };
  return api('POST', '/api/auth/webauthn/login/finish?cookie=true', { challenge, credential });
}
