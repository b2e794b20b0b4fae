/**
 * Test events in the shapes Lambda's HTTP front doors send (API Gateway REST payload 1.0, HTTP API
 * payload 2.0, function URLs, ALB with and without multi-value headers), built from one description.
 */

export interface RequestSpec {
  method?: string;
  path?: string;
  /** Decoded parameters, in order; a name may repeat. */
  query?: [string, string][];
  /** The query string exactly as the client sent it (payload 2.0, function URLs and ALB use it). */
  rawQuery?: string;
  headers?: [string, string][];
  body?: string | Buffer;
  sourceIp?: string;
}

export type EventShape = 'api-gateway-v1' | 'api-gateway-v2' | 'function-url' | 'alb' | 'alb-multi-value';
export const EVENT_SHAPES: readonly EventShape[] = [
  'api-gateway-v1',
  'api-gateway-v2',
  'function-url',
  'alb',
  'alb-multi-value',
];

/** Builds the event a front door would send for the request. */
export function httpEvent(shape: EventShape, spec: RequestSpec = {}): Record<string, unknown> {
  switch (shape) {
    case 'api-gateway-v1':
      return restEvent(spec);
    case 'api-gateway-v2':
      return v2Event(spec, 'r3pmxmplak.execute-api.us-east-1.amazonaws.com');
    case 'function-url':
      return v2Event(spec, 'abcdefghijkl.lambda-url.us-east-1.on.aws');
    case 'alb':
      return albEvent(spec, false);
    case 'alb-multi-value':
      return albEvent(spec, true);
  }
}

function rawQueryOf(spec: RequestSpec): string {
  if (spec.rawQuery !== undefined) return spec.rawQuery;
  return (spec.query ?? []).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

function bodyFields(spec: RequestSpec): { body: string | null; isBase64Encoded: boolean } {
  if (spec.body === undefined) return { body: null, isBase64Encoded: false };
  if (Buffer.isBuffer(spec.body)) return { body: spec.body.toString('base64'), isBase64Encoded: true };
  return { body: spec.body, isBase64Encoded: false };
}

function grouped(pairs: [string, string][]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of pairs) out[k] = [...(out[k] ?? []), v];
  return out;
}

function lastValues(pairs: [string, string][]): Record<string, string> {
  return Object.fromEntries(Object.entries(grouped(pairs)).map(([k, v]) => [k, v[v.length - 1] ?? '']));
}

function restEvent(spec: RequestSpec): Record<string, unknown> {
  const headers: [string, string][] = [['Host', 'api.example.com'], ...(spec.headers ?? [])];
  const query = spec.query ?? [];
  return {
    resource: '/{proxy+}',
    path: spec.path ?? '/',
    httpMethod: spec.method ?? 'GET',
    headers: lastValues(headers),
    multiValueHeaders: grouped(headers),
    queryStringParameters: query.length ? lastValues(query) : null,
    multiValueQueryStringParameters: query.length ? grouped(query) : null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      resourcePath: '/{proxy+}',
      httpMethod: spec.method ?? 'GET',
      path: `/prod${spec.path ?? '/'}`,
      stage: 'prod',
      protocol: 'HTTP/1.1',
      domainName: 'api.example.com',
      identity: { sourceIp: spec.sourceIp ?? '203.0.113.7', userAgent: 'test' },
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    },
    ...bodyFields(spec),
  };
}

function v2Event(spec: RequestSpec, domainName: string): Record<string, unknown> {
  const cookies = (spec.headers ?? []).filter(([k]) => k.toLowerCase() === 'cookie').map(([, v]) => v);
  const others = (spec.headers ?? []).filter(([k]) => k.toLowerCase() !== 'cookie');
  const headers: Record<string, string> = { host: domainName };
  for (const [k, vs] of Object.entries(grouped(others))) headers[k.toLowerCase()] = vs.join(',');
  const rawQueryString = rawQueryOf(spec);
  const event: Record<string, unknown> = {
    version: '2.0',
    routeKey: '$default',
    rawPath: spec.path ?? '/',
    rawQueryString,
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: domainName.split('.')[0],
      domainName,
      domainPrefix: domainName.split('.')[0],
      http: {
        method: spec.method ?? 'GET',
        path: spec.path ?? '/',
        protocol: 'HTTP/1.1',
        sourceIp: spec.sourceIp ?? '203.0.113.7',
        userAgent: 'test',
      },
      requestId: 'JKJaXmPLvHcESHA=',
      routeKey: '$default',
      stage: '$default',
      time: '10/Mar/2020:05:16:23 +0000',
      timeEpoch: 1583817383220,
    },
    ...bodyFields(spec),
  };
  if (cookies.length) event.cookies = cookies.flatMap((c) => c.split(/;\s*/));
  if (spec.body === undefined) delete event.body;
  return event;
}

function albEvent(spec: RequestSpec, multi: boolean): Record<string, unknown> {
  const headers: [string, string][] = [
    ['host', 'lambda-846800462-us-east-2.elb.amazonaws.com'],
    ['x-forwarded-for', `198.51.100.1, ${spec.sourceIp ?? '203.0.113.7'}`],
    ['x-forwarded-port', '443'],
    ['x-forwarded-proto', 'https'],
    ...(spec.headers ?? []).map(([k, v]): [string, string] => [k.toLowerCase(), v]),
  ];
  // An ALB passes parameters still encoded, as the client sent them.
  const raw = rawQueryOf(spec);
  const query: [string, string][] = raw
    ? raw.split('&').map((p) => {
        const i = p.indexOf('=');
        return i === -1 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)];
      })
    : [];
  const event: Record<string, unknown> = {
    requestContext: {
      elb: {
        targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/tg/6d0ecf831eec9f09',
      },
    },
    httpMethod: spec.method ?? 'GET',
    path: spec.path ?? '/',
    ...bodyFields(spec),
  };
  if (event.body === null) event.body = '';
  if (multi) {
    event.multiValueHeaders = grouped(headers);
    event.multiValueQueryStringParameters = grouped(query);
  } else {
    event.headers = lastValues(headers);
    event.queryStringParameters = lastValues(query);
  }
  return event;
}
