/** `scalesignal/dashboard`: a live page of the leading indicators, second by second (development and load tests). */
export * from '../sinks/dashboard/index.js';
