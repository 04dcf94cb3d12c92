/** Text from clients and the store made safe for logs and terminals (issue 18). */
/**
 * Control characters (C0, DEL and C1, e.g. 0x9B, a one-byte CSI) as \u escapes: text from the
 * store (user agents, names) reaches the operator's terminal inert.
 */
export function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** At most 200 characters, control characters escaped: for ids and other input in logs and messages. */
export function safeText(text: string): string {
  const escaped = escapeControl(text);
  return escaped.length > 200 ? `${escaped.slice(0, 200)}…` : escaped;
}
