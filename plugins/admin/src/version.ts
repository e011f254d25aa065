/** This package's version, shown in the console's overview (kept equal to package.json by a test). */
export const ADMIN_VERSION = '0.1.0';
