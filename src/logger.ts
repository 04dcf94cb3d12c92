import { pino, type Logger } from 'pino';

export type { Logger };

/** Longest log line written, bytes (newline included): whatever a client sent, a line stays readable and cheap. */
export const MAX_LOG_LINE_BYTES = 8192;

/**
 * `line` (one JSON log line with its newline) when it fits in `maxBytes`; else a line that does:
 * the same level, time and message, the original length, and as much of the original text as
 * fits, as a string. Lines written by pino are small: the cost is one length check per line.
 */
export function boundLogLine(line: string, maxBytes = MAX_LOG_LINE_BYTES): string {
  if (line.length * 3 <= maxBytes || Buffer.byteLength(line, 'utf8') <= maxBytes) return line;
  let head: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    head = { level: parsed.level, time: parsed.time, pid: parsed.pid, hostname: parsed.hostname, service: parsed.service, msg: typeof parsed.msg === 'string' ? parsed.msg.slice(0, 256) : parsed.msg };
  } catch {
    // Not JSON (a custom destination's format): only the cut text is kept.
  }
  const bytes = Buffer.byteLength(line, 'utf8');
  // Each character of the excerpt takes at most 6 bytes once JSON-escaped (\uXXXX).
  let room = Math.floor((maxBytes - Buffer.byteLength(JSON.stringify({ ...head, truncatedFromBytes: bytes, excerpt: '' })) - 2) / 6);
  let out = `${JSON.stringify({ ...head, truncatedFromBytes: bytes, excerpt: line.slice(0, Math.max(0, room)) })}\n`;
  // The estimate is from above; widen while there is room, in one or two steps.
  while (Buffer.byteLength(out, 'utf8') < maxBytes / 2 && room < line.length) {
    room *= 2;
    const wider = `${JSON.stringify({ ...head, truncatedFromBytes: bytes, excerpt: line.slice(0, room) })}\n`;
    if (Buffer.byteLength(wider, 'utf8') > maxBytes) break;
    out = wider;
  }
  return out;
}

/**
 * The JSON logger. Authorization headers and anything named like a secret are redacted
 * as a second line of defence: code never logs a raw token or password on purpose. No line is
 * longer than {@link MAX_LOG_LINE_BYTES}: a longer one is replaced by its level, time,
 * message and an excerpt.
 */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'graphql-revoke' },
      redact: {
        paths: [
          'token', 'accessToken', 'password', 'authorization', '*.token', '*.accessToken', '*.password', '*.authorization', 'req.headers.authorization',
          // ioredis errors carry the failed command with its arguments: a user's password hash
          // (HSET of a sign-up), token ids. The command name stays; the arguments go.
          'err.command.args', '*.err.command.args',
        ],
        censor: '[redacted]',
      },
      hooks: { streamWrite: (line) => boundLogLine(line) },
    },
    ...(destination ? [destination] : []),
  );
}
