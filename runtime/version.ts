// The polygrad version (package.json's; a test keeps them equal): caches made by another version are not trusted.
export const version = '0.1.0';
