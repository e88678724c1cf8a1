/**
 * An error from Parley: the server's `{"error":{code,message}}`, or one the client makes for
 * a transport failure (`unavailable`) or a request that timed out (`timeout`).
 */
export class ParleyError extends Error {
  /**
   * @param {string} code snake_case code: invalid_request, unauthorized, forbidden, not_found,
   *   conflict, rate_limited, payload_too_large, unavailable, internal, timeout, session_ended
   * @param {string} message a sentence for humans
   * @param {{status?: number, retryAfterMs?: number, cause?: unknown}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'ParleyError';
    /** @type {string} */
    this.code = code;
    /** @type {number | undefined} HTTP status, when the error came over HTTP */
    this.status = extra.status;
    /** @type {number | undefined} */
    this.retryAfterMs = extra.retryAfterMs;
  }

  /** Whether trying the same request again later can succeed. */
  get retryable() {
    return RETRYABLE.has(this.code);
  }

  /**
   * @param {any} body a parsed error body, `{error:{code,message,retry_after_ms?}}`
   * @param {number} [status]
   */
  static fromBody(body, status) {
    const e = body && typeof body === 'object' ? body.error : undefined;
    if (!e || typeof e.code !== 'string') {
      return new ParleyError(status && status >= 500 ? 'internal' : 'invalid_request',
        `unexpected answer (HTTP ${status ?? '?'})`, { status });
    }
    return new ParleyError(e.code, String(e.message ?? e.code), {
      status,
      retryAfterMs: typeof e.retry_after_ms === 'number' ? e.retry_after_ms : undefined,
    });
  }
}

const RETRYABLE = new Set(['rate_limited', 'unavailable', 'internal', 'timeout']);
