/** The runtime's version, sent in the User-Agent of every Runtime API request. */
export const RUNTIME_VERSION = '0.1.0';
