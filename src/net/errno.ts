// The errno name (EACCES, EADDRINUSE, ENOENT...) of a failed system call, for logs and bind errors.

/** The `.code` of a Node system error, or 'unknown' when there is none. */
export function errnoOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'unknown';
}
