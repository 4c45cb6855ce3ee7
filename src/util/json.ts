/**
 * Parses a JSON file's text that must hold an object. `fail` builds the error (it knows the file's path and the
 * error class that fits: BundleError, IndexError).
 */
export function parseJsonObject(text: string, fileName: string, fail: (message: string) => Error): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw fail(`${fileName} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail(`${fileName} must hold a JSON object`);
  return raw as Record<string, unknown>;
}
