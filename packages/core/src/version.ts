/** Kept equal to package.json's version (a test checks); plugins declare a range against it. */
export const KERNEL_VERSION = '0.1.0';
