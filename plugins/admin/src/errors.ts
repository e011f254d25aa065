/** The console API's error codes: every error answer is `{ error: { code, message } }` with one of these. */
export const AdminErrorCodes = {
  UNAUTHENTICATED: 'ERR_ADMIN_UNAUTHENTICATED',
  FORBIDDEN: 'ERR_ADMIN_FORBIDDEN',
  NOT_FOUND: 'ERR_ADMIN_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'ERR_ADMIN_METHOD_NOT_ALLOWED',
  BAD_REQUEST: 'ERR_ADMIN_BAD_REQUEST',
  TOO_LARGE: 'ERR_ADMIN_TOO_LARGE',
  INVALID_RULES: 'ERR_ADMIN_INVALID_RULES',
  NO_CONFIG_SOURCE: 'ERR_ADMIN_NO_CONFIG_SOURCE',
  CONFLICT: 'ERR_ADMIN_CONFLICT',
  NOT_VALIDATABLE: 'ERR_ADMIN_NOT_VALIDATABLE',
  INTERNAL: 'ERR_ADMIN_INTERNAL',
} as const;

export type AdminErrorCode = (typeof AdminErrorCodes)[keyof typeof AdminErrorCodes];

/** An API failure with its HTTP status; the server turns it into the JSON error answer. */
export class AdminApiError extends Error {
  constructor(readonly status: number, readonly code: AdminErrorCode, message: string, readonly details?: unknown) {
    super(message);
  }
}
