/**
 * What differs from run to run in the guide's transcripts, replaced by placeholders on both sides:
 * process ids, and the correlation id of a redacted error. Everything else must match exactly.
 */
export function normalizeTranscript(lines: readonly string[]): string[] {
  return lines.map((line) => line
    .replace(/\bpid \d+/g, 'pid <pid>')
    .replace(/\(id [^)\s]+\)/g, '(id <id>)')
    .replace(/\[trellis-error-id [^\]\s]+\]/g, '[trellis-error-id <id>]'));
}
