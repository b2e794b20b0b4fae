/** The Lambda control-plane errors the local Lambda API answers with, in the wire shape the AWS SDK and CLI parse. */

// Error shapes: https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html and each action's "Errors".
// The SDK (restJson1) takes the error name from the `x-amzn-ErrorType` header and the message from the
// body's `message`/`Message`; Lambda itself answers `{"Type": "User", "message": ...}`.

/** An error answered to the caller as Lambda would: HTTP status, error type, message. */
export class ApiError extends Error {
  readonly status: number;
  readonly errorType: string;
  /** `User` for the caller's mistakes, `Service` for ours. */
  readonly kind: 'User' | 'Service';

  constructor(status: number, errorType: string, message: string, kind: 'User' | 'Service' = 'User') {
    super(message);
    this.name = errorType;
    this.status = status;
    this.errorType = errorType;
    this.kind = kind;
  }

  /** The JSON body: both spellings of the message, since SDKs read one or the other. */
  body(): string {
    return JSON.stringify({ Type: this.kind, message: this.message, Message: this.message });
  }
}

/** A function, layer version or statement that does not exist (404). */
export function notFound(message: string): ApiError {
  return new ApiError(404, 'ResourceNotFoundException', message);
}

/** A parameter Lambda refuses (400). */
export function invalidParameter(message: string): ApiError {
  return new ApiError(400, 'InvalidParameterValueException', message);
}

/** The resource exists already or is busy (409). */
export function conflict(message: string): ApiError {
  return new ApiError(409, 'ResourceConflictException', message);
}

/** A request body over the operation's limit (413). */
export function tooLarge(message: string): ApiError {
  return new ApiError(413, 'RequestEntityTooLargeException', message);
}

/** A stale `RevisionId` (412). */
export function preconditionFailed(message: string): ApiError {
  return new ApiError(412, 'PreconditionFailedException', message);
}

/** Something on our side failed, such as an unreadable file in the data dir (500). */
export function serviceError(message: string): ApiError {
  return new ApiError(500, 'ServiceException', message, 'Service');
}

/** A route Lambda does not have (404), as AWS front ends answer it. */
export function unknownOperation(method: string, path: string): ApiError {
  return new ApiError(404, 'UnknownOperationException', `Unknown operation: ${method} ${path}`);
}

/** A metadata or zip file in the data dir that is missing or unreadable; answered as a ServiceException. */
export class StorageError extends Error {
  constructor(file: string, problem: string) {
    super(`shlambda local: ${file} ${problem}`);
    this.name = 'StorageError';
  }
}
