import { HubError, isHubError } from '../../core/errors.js';

/** The fields of an imapflow error we read (imapflow `errors.d.ts`: ImapFlowError); anything may be missing. */
type ImapErrorFields = {
  code?: unknown;
  authenticationFailed?: unknown;
  tlsFailed?: unknown;
  serverResponseCode?: unknown;
  responseText?: unknown;
  response?: unknown;
  mailboxMissing?: unknown;
  path?: unknown;
};

// Socket, DNS and imapflow connection codes: the server could not be reached or the session died.
// imapflow says dropped connections "are normal" and the caller reconnects (postalsys/imapflow#102).
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'ClosedAfterConnectText', 'EPROXY', 'ProxyError']);
const LOST = new Set(['NoConnection', 'EConnectionClosed', 'ETIMEOUT', 'ECONNRESET', 'EPIPE', 'StateLogout', 'ETHROTTLE', 'UPGRADE_TIMEOUT']);
const TLS = /^(ERR_SSL_|ERR_TLS_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_(GET|VERIFY)_|ClosedAfterConnectTLS$|STARTTLS_INJECTION$|HOSTNAME_MISMATCH$)/;

function fields(err: unknown): ImapErrorFields {
  return err !== null && typeof err === 'object' ? (err as ImapErrorFields) : {};
}

/** What the server said, without the command tag and response code ("2 NO [AUTHENTICATIONFAILED] Authentication failed." → "Authentication failed."). */
function serverText(f: ImapErrorFields): string | undefined {
  const raw = typeof f.responseText === 'string' ? f.responseText : typeof f.response === 'string' ? f.response : undefined;
  const text = raw
    ?.replace(/^\S+\s+(NO|BAD|BYE)\s+/i, '')
    .replace(/^\[[^\]]*\]\s*/, '')
    .trim();
  return text || undefined;
}

/**
 * Translates what imapflow throws into a HubError that says what is wrong in words, by the
 * error's codes and flags, never by its message text: a refused login or a TLS mismatch is not
 * retryable (UPSTREAM_REJECTED); an unreachable server or a lost connection is (UPSTREAM_UNAVAILABLE).
 */
export function imapError(err: unknown, server: string, user: string): HubError {
  if (isHubError(err)) return err;
  const f = fields(err);
  const code = typeof f.code === 'string' ? f.code : undefined;
  const message = err instanceof Error ? err.message.split('\n')[0]?.trim() || err.name : String(err);
  const said = serverText(f);
  if (f.authenticationFailed === true) {
    return new HubError('UPSTREAM_REJECTED', `${server} rejected the login of "${user}": wrong user or password, or the account needs an app password or IMAP turned on${said ? ` (server: ${said})` : ''}`, { cause: err });
  }
  if (f.tlsFailed === true || (code && TLS.test(code))) {
    return new HubError('UPSTREAM_REJECTED', `TLS with ${server} failed (${code ?? 'TLS error'}: ${message}); check "tls" and "port" (implicit TLS is usually 993, STARTTLS 143) and the certificate ("tlsVerify")`, { cause: err });
  }
  if (f.mailboxMissing === true || code === 'NotFound') {
    return new HubError('UPSTREAM_REJECTED', `${server}: mailbox ${typeof f.path === 'string' ? `"${f.path}" ` : ''}does not exist (${said ?? message})`, { cause: err });
  }
  if (code && UNREACHABLE.has(code)) {
    return new HubError('UPSTREAM_UNAVAILABLE', `cannot reach ${server} (${code}: ${message})`, { cause: err });
  }
  if (code && LOST.has(code)) {
    return new HubError('UPSTREAM_UNAVAILABLE', `the connection to ${server} was lost (${code}${said ? `: ${said}` : ''})`, { cause: err });
  }
  return new HubError('UPSTREAM_UNAVAILABLE', `${server} failed: ${said ?? message}${code ? ` (${code})` : ''}`, { cause: err });
}

/** A connection problem worth reconnecting for (with backoff), as opposed to a refusal that a new connection will not change. */
export function worthReconnecting(err: HubError): boolean {
  return err.code === 'HUB_ERR_UPSTREAM_UNAVAILABLE';
}
