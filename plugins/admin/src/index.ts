export { admin, type AdminPlugin } from './plugin.js';
export type { AdminOptions } from './options.js';
export { AdminErrorCodes, type AdminErrorCode } from './errors.js';
export { serveConsole, type ConsoleServer, type ConsoleServerOptions, type ApiRoute, type ApiRequest } from './http-server.js';
export { histogramQuantile, type SeriesPoint } from './series.js';
export { serveRegistryConsole, ADMIN_URL_TAG, type RegistryConsoleOptions, type RegistryService, type RegistryProvider } from './registry-console.js';
