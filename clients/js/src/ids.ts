// Client-generated message ids: UUID v7 (48-bit Unix milliseconds, version, 74 random bits; RFC 9562),
// as the 32 lowercase hex digits the frame model uses. Time-ordered ids keep the server's de-duplication
// index and the outbox in creation order.

export function newMessageId(now: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let time = now;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = time % 256;
    time = Math.floor(time / 256);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
