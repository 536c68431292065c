/** A dataset file or directory that cannot be used; the message names the file and what is wrong. */
export class DataError extends Error {
  override name = 'DataError';
  constructor(message: string, readonly path?: string) {
    super(path ? `${path}: ${message}` : message);
  }
}
