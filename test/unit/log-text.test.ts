import { describe, expect, it } from 'vitest';
import { escapeControl, safeText } from '../../src/admin/log-text.js';

describe('text for logs and the operator terminal (issue 18)', () => {
  it('escapes C0, DEL and C1 control characters (0x9B is a one-byte CSI), keeps newlines and printable text', () => {
    expect(escapeControl('agent\u009b31mred\u001b[2J\u0007\u007f')).toBe('agent\\u009b31mred\\u001b[2J\\u0007\\u007f');
    expect(escapeControl('line one\nline two ü')).toBe('line one\nline two ü');
  });

  it('cuts ids to 200 characters', () => {
    expect(safeText('x'.repeat(100_000))).toBe(`${'x'.repeat(200)}…`);
    expect(safeText('id-1')).toBe('id-1');
  });
});
