import { InvalidRequestError } from './api-error.js';

/** Small, explicit validators: each failure is a 400 whose message and `param` name the field. */

export function requireObject(value: unknown, what = 'request body'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRequestError(`The ${what} must be a JSON object, got ${describe(value)}.`);
  }
  return value as Record<string, unknown>;
}

export function rejectUnknownFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const field of Object.keys(body)) {
    if (!allowed.includes(field)) {
      throw new InvalidRequestError(
        `Unrecognized request argument: ${field}. Allowed: ${allowed.join(', ')}.`,
        field,
        'unknown_parameter',
      );
    }
  }
}

export function requiredString(body: Record<string, unknown>, field: string, maxLength: number): string {
  const value = body[field];
  if (value === undefined || value === null) {
    throw new InvalidRequestError(
      `Missing required parameter: '${field}'.`,
      field,
      'missing_required_parameter',
    );
  }
  return checkString(value, field, maxLength);
}

export function optionalString(
  body: Record<string, unknown>,
  field: string,
  maxLength: number,
  pattern?: RegExp,
): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  const text = checkString(value, field, maxLength);
  if (pattern && !pattern.test(text)) {
    throw new InvalidRequestError(`Invalid '${field}': must match ${pattern}.`, field, 'invalid_value');
  }
  return text;
}

function checkString(value: unknown, field: string, maxLength: number): string {
  if (typeof value !== 'string') {
    throw new InvalidRequestError(
      `Invalid type for '${field}': expected a string, got ${describe(value)}.`,
      field,
      'invalid_type',
    );
  }
  if (value.trim().length === 0) {
    throw new InvalidRequestError(`Invalid '${field}': must not be empty.`, field, 'empty_string');
  }
  if (value.length > maxLength) {
    throw new InvalidRequestError(
      `Invalid '${field}': ${value.length} characters, the maximum is ${maxLength}.`,
      field,
      'string_above_max_length',
    );
  }
  return value;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
