/** `scalesignal/console`: a compact table of every window, for development. */
export { consoleSink, type ConsoleSinkOptions } from '../sinks/console.js';
