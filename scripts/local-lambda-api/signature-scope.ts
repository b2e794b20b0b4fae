/** Reads the credential scope of a request's SigV4 signature: which region and service it was signed for. */

import type { IncomingMessage } from 'node:http';

/** `Credential=KEY/20261202/us-east-1/s3/aws4_request` in the Authorization header. */
const CREDENTIAL_SCOPE = /Credential=[^/,\s]+\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/;

/** The region and service the request is signed for; none for an unsigned one (a zip download). */
export function signatureScope(req: IncomingMessage): { region: string; service: string } | undefined {
  const match = CREDENTIAL_SCOPE.exec(req.headers.authorization ?? '');
  return match?.[1] && match[2] ? { region: match[1], service: match[2] } : undefined;
}
