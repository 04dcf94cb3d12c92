import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The JSON logger. Authorization headers and anything named like a secret are redacted
 * as a second line of defence: code never logs a raw token or password on purpose.
 */
export function createLogger(level = 'info', options: { pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ? { write: (line: string) => void process.stdout.write(formatLogLine(line)) } : undefined;
  return pino({
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
  }, ...(pretty ? [pretty] : []));
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
