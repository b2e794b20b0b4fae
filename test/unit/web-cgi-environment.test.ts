/** Unit tests for the CGI/1.1 variables built from each kind of HTTP event. */

import { describe, expect, it } from 'vitest';
import { cgiVariables, joinHeaders } from '../../runtime/web/cgi-environment.ts';
import { parseHttpEvent } from '../../runtime/web/http-event.ts';
import { EVENT_SHAPES, type EventShape, httpEvent, type RequestSpec } from '../helpers/http-events.ts';

const SCRIPT = {
  file: '/var/task/index.php',
  name: 'index.php',
  taskRoot: '/var/task',
  serverSoftware: 'shlambda/test',
};

function variables(shape: EventShape, spec: RequestSpec = {}, script = SCRIPT) {
  return cgiVariables(parseHttpEvent(Buffer.from(JSON.stringify(httpEvent(shape, spec)))), script);
}

const HOSTS: Record<EventShape, string> = {
  'api-gateway-v1': 'api.example.com',
  'api-gateway-v2': 'r3pmxmplak.execute-api.us-east-1.amazonaws.com',
  'function-url': 'abcdefghijkl.lambda-url.us-east-1.on.aws',
  alb: 'lambda-846800462-us-east-2.elb.amazonaws.com',
  'alb-multi-value': 'lambda-846800462-us-east-2.elb.amazonaws.com',
};

describe('cgiVariables: every event shape', () => {
  it.each(EVENT_SHAPES)('%s: a POST with a query, headers and a body', (shape) => {
    const env = variables(shape, {
      method: 'POST',
      path: '/users/42',
      query: [
        ['q', 'a b'],
        ['n', '1'],
      ],
      headers: [
        ['Content-Type', 'application/x-www-form-urlencoded'],
        ['Content-Length', '7'],
        ['X-Custom-Thing', 'yes'],
        ['User-Agent', 'curl/8'],
      ],
      body: 'a=1&b=2',
    });
    expect(env).toMatchObject({
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_SOFTWARE: 'shlambda/test',
      SERVER_NAME: HOSTS[shape],
      SERVER_PORT: '443',
      SERVER_PROTOCOL: 'HTTP/1.1',
      HTTPS: 'on',
      REQUEST_SCHEME: 'https',
      REQUEST_METHOD: 'POST',
      REQUEST_URI: '/users/42?q=a%20b&n=1',
      QUERY_STRING: 'q=a%20b&n=1',
      SCRIPT_NAME: '/index.php',
      SCRIPT_FILENAME: '/var/task/index.php',
      PATH_INFO: '/users/42',
      DOCUMENT_ROOT: '/var/task',
      REDIRECT_STATUS: '200',
      CONTENT_TYPE: 'application/x-www-form-urlencoded',
      CONTENT_LENGTH: '7',
      REMOTE_ADDR: '203.0.113.7',
      HTTP_X_CUSTOM_THING: 'yes',
      HTTP_USER_AGENT: 'curl/8',
      HTTP_HOST: HOSTS[shape],
    });
    expect(env).not.toHaveProperty('HTTP_CONTENT_TYPE');
    expect(env).not.toHaveProperty('HTTP_CONTENT_LENGTH');
  });

  it.each(EVENT_SHAPES)(
    '%s: a GET without query or body has an empty QUERY_STRING and no CONTENT_*',
    (shape) => {
      const env = variables(shape);
      expect(env.QUERY_STRING).toBe('');
      expect(env.REQUEST_URI).toBe('/');
      expect(env.REQUEST_METHOD).toBe('GET');
      expect(env).not.toHaveProperty('CONTENT_LENGTH');
      expect(env).not.toHaveProperty('CONTENT_TYPE');
    },
  );
});

describe('cgiVariables: details', () => {
  it('counts CONTENT_LENGTH in decoded bytes, not base64 characters', () => {
    const env = variables('api-gateway-v2', { method: 'PUT', body: Buffer.alloc(1000, 7) });
    expect(env.CONTENT_LENGTH).toBe('1000');
  });

  it('decodes PATH_INFO but not REQUEST_URI', () => {
    const env = variables('api-gateway-v2', { path: '/caf%C3%A9/a%20b' });
    expect(env.PATH_INFO).toBe('/café/a b');
    expect(env.REQUEST_URI).toBe('/caf%C3%A9/a%20b');
  });

  it('takes the script name off the front of PATH_INFO when the path names the script', () => {
    expect(variables('function-url', { path: '/index.php/extra' }).PATH_INFO).toBe('/extra');
    expect(variables('function-url', { path: '/index.php' }).PATH_INFO).toBe('');
    const nested = { ...SCRIPT, name: 'cgi-bin/app.sh', file: '/var/task/cgi-bin/app.sh' };
    expect(variables('function-url', { path: '/x' }, nested).SCRIPT_NAME).toBe('/cgi-bin/app.sh');
  });

  it('joins repeated headers with ", " and cookies with "; "', () => {
    const env = variables('api-gateway-v1', {
      headers: [
        ['Accept', 'text/html'],
        ['Accept', 'image/png'],
        ['Cookie', 'a=1'],
        ['Cookie', 'b=2'],
      ],
    });
    expect(env.HTTP_ACCEPT).toBe('text/html, image/png');
    expect(env.HTTP_COOKIE).toBe('a=1; b=2');
  });

  it('gives payload 2.0 cookies as HTTP_COOKIE', () => {
    const env = variables('api-gateway-v2', { headers: [['Cookie', 'session=abc; theme=dark']] });
    expect(env.HTTP_COOKIE).toBe('session=abc; theme=dark');
  });

  it('never sets HTTP_PROXY from a Proxy header (httpoxy), nor names that would collide', () => {
    const env = variables('api-gateway-v1', {
      headers: [
        ['Proxy', 'http://evil.example:8080'],
        ['X_Forwarded_For', 'spoofed'],
      ],
    });
    expect(env).not.toHaveProperty('HTTP_PROXY');
    expect(env.HTTP_X_FORWARDED_FOR).toBeUndefined();
  });

  it('uses plain HTTP on port 80 when an ALB says the client used http', () => {
    const env = variables('alb', {
      headers: [
        ['X-Forwarded-Proto', 'http'],
        ['X-Forwarded-Port', '80'],
      ],
    });
    expect(env).not.toHaveProperty('HTTPS');
    expect(env.REQUEST_SCHEME).toBe('http');
    expect(env.SERVER_PORT).toBe('80');
  });

  it('splits a port off the Host header', () => {
    const env = variables('api-gateway-v2', { headers: [['Host', 'localhost:8080']] });
    expect(env.SERVER_NAME).toBe('localhost');
    expect(env.HTTP_HOST).toBe('localhost:8080');
  });

  it('drops NUL bytes, which an environment variable cannot hold', () => {
    expect(joinHeaders([['x-a', 'a\0b']]).get('x-a')).toBe('ab');
    expect(variables('api-gateway-v2', { path: '/a%00b' }).PATH_INFO).toBe('/ab');
  });
});
