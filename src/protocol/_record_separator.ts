/** Ends every JSON record and the handshake messages of every protocol. */
export const RECORD_SEPARATOR = "\x1e";
/** {@linkcode RECORD_SEPARATOR} as a byte. */
export const RECORD_SEPARATOR_CODE = 0x1e;
