/** The package version, read once from package.json (two levels up from src/ and from dist/). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const VERSION: string = (require('../package.json') as { version: string }).version;
