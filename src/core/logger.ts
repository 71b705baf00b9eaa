/** Where sink failures and one-time notices go (createMetrics' `logger` option); console and pino fit. */
export interface Logger {
  warn(message: string): void;
  info?(message: string): void;
}
