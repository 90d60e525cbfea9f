/**
 * The CloudEvent id for a job: the same 128 bits written as an RFC 9562 version 8 (custom) UUID, so consumers get
 * a conventional id that is the same on every delivery.
 *
 * @example
 * eventIdFor('0123456789abcdef0123456789abcdef'); // '01234567-89ab-8def-8123-456789abcdef'
 */
export function eventIdFor(jobId: string): string {
  const variant = ((Number.parseInt(jobId.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${jobId.slice(0, 8)}-${jobId.slice(8, 12)}-8${jobId.slice(13, 16)}-${variant}${jobId.slice(17, 20)}-${jobId.slice(20, 32)}`;
}
