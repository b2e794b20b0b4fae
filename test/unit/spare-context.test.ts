import { describe, expect, it } from 'vitest';
import { contextLines } from '../../runtime/spare-process.ts';

describe('contextLines: the variables a prestarted handler receives', () => {
  it('writes one NAME=value line per variable, values verbatim', () => {
    expect(contextLines({ LAMBDA_REQUEST_ID: 'abc', LAMBDA_CLIENT_CONTEXT: '{"a":"$(id) `x` \'q\'"}' })).toBe(
      'LAMBDA_REQUEST_ID=abc\nLAMBDA_CLIENT_CONTEXT={"a":"$(id) `x` \'q\'"}\n',
    );
  });

  it('drops line breaks and NUL from a value, so no value can start a line of its own', () => {
    const text = contextLines({ _X_AMZN_TRACE_ID: 'Root=1\nLAMBDA_REQUEST_ID=forged\r\0' });
    expect(text.split('\n')).toEqual(['_X_AMZN_TRACE_ID=Root=1LAMBDA_REQUEST_ID=forged', '']);
  });
});
