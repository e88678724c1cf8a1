// @parley/client: Parley's client library for browsers and Node 20.
export { ParleyClient } from './client.js';
export { ParleyError } from './errors.js';
export { ConversationLog } from './log.js';
export { Backoff } from './backoff.js';
export { memoryStorage } from './storage.js';
