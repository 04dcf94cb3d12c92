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
 * message and an excerpt. To `destination` or stdout; with `pretty`, each line formatted for a
 * person on a terminal (LOG_FORMAT=pretty).
 */
export function createLogger(level = 'info', options: { pretty?: boolean; destination?: pino.DestinationStream } = {}): Logger {
  const destination = options.pretty ? { write: (line: string) => void (options.destination ?? process.stdout).write(formatLogLine(line)) } : options.destination;
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

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/**
 * One pino JSON line as a person reads it on a terminal (LOG_FORMAT=pretty): local time, level,
 * message, then the other fields as key=value (objects as JSON), and an error's stack below.
 * Redaction happened before, in pino: the same fields are hidden. A line that is not JSON is
 * passed as it is.
 */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const { level, time, msg, service: _service, pid: _pid, hostname: _hostname, err, ...fields } = entry;
  const at = typeof time === 'number' ? new Date(time) : new Date();
  const clock = `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}:${String(at.getSeconds()).padStart(2, '0')}.${String(at.getMilliseconds()).padStart(3, '0')}`;
  const name = (LEVEL_NAMES[level as number] ?? String(level)).padEnd(5);
  const rest = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === 'string' && !/[\s"=]/.test(value) ? value : JSON.stringify(value)}`);
  const stack = err && typeof err === 'object' && typeof (err as { stack?: unknown }).stack === 'string' ? `\n    ${(err as { stack: string }).stack.split('\n').join('\n    ')}` : '';
  return `${clock} ${name} ${String(msg ?? '')}${rest.length > 0 ? `  ${rest.join(' ')}` : ''}${stack}\n`;
}
