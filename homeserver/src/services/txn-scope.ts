/** Transaction ids are scoped to the device and to the endpoint and room they were used on. */
export function txnScope(endpoint: "send" | "redact", roomId: string): string {
  return `${endpoint}:${roomId}`;
}
