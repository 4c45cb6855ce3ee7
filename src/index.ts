export { Relik, type LoadOptions } from './relik.js';
export { BundleError, IndexError } from './errors.js';
export { splitWords } from './text/words.js';
export { makeWindows, type WordWindow } from './pipeline/windows.js';
export * from './types.js';
