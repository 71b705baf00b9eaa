/**
 * The HTTP metric names moved to http/names.ts (the rest of the old module: http/labels.ts, http/tracker.ts,
 * http/early-start.ts, http/response-ends.ts). Kept only for src/cli/names.ts, which imports the names from here;
 * remove once it imports http/names.ts.
 */
export { ACTIVE_REQUESTS, OTHER_ROUTE, REQUEST_DURATION, REQUESTS, SSE_CONNECTIONS, UNMATCHED_ROUTE } from './http/names.js';
